import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { GATEWAY_DOCKERFILE } from "../constants";
import { registryOf } from "../manifests/gatewayManifests";

/** Arguments of {@link GatewayImage}. */
export interface GatewayImageArgs {
  /** Tag to push, e.g. `registry.cn-hangzhou.aliyuncs.com/acme/tcp-shift-gateway:0.1.0`. */
  image: string;
  /** Registry user. */
  username: string;
  /** Registry password (secret). */
  password: pulumi.Input<string>;
  /**
   * Build context: the repository root (the Dockerfile copies `gateway/` and the shared modules).
   * @default "."
   */
  context?: string;
}

/**
 * Builds `dataplane/Dockerfile` and pushes it to the registry during `pulumi up` (with
 * `@pulumi/docker-build`, which needs a Docker engine with buildx where `pulumi up` runs).
 */
export class GatewayImage extends pulumi.ComponentResource {
  /** The pushed image pinned by digest (`repo@sha256:...`): a rebuild rolls the gateway. */
  readonly ref: pulumi.Output<string>;

  constructor(name: string, args: GatewayImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tcp-shift:gateway:GatewayImage", name, {}, opts);
    const image = new dockerBuild.Image(
      `${name}-image`,
      {
        context: { location: args.context ?? "." },
        dockerfile: { location: GATEWAY_DOCKERFILE },
        platforms: [dockerBuild.Platform.Linux_amd64],
        tags: [args.image],
        push: true,
        // Previews (PR checks) need no Docker engine; `pulumi up` builds and pushes.
        buildOnPreview: false,
        registries: [
          {
            address: registryOf(args.image),
            username: args.username,
            password: pulumi.secret(args.password),
          },
        ],
      },
      { parent: this },
    );
    this.ref = image.ref;
    this.registerOutputs({ ref: this.ref });
  }
}
