/** What the tier's global setup hands every scenario (vitest `provide`/`inject`). */
import type { ToolPaths } from "../../testbed/toolchain";

export type TierContext =
  | { skip: string }
  | {
      skip?: undefined;
      /** State directory of the control planes (testbed/controlPlanes.ts). */
      stateDir: string;
      /** Scratch directory of this run (project copies go below it). */
      scratch: string;
      /** Where scenarios write what a person should see (the real preview output, timings). */
      artifactsDir: string;
      /** PULUMI_HOME with the built Kubernetes provider installed. */
      pulumiHome: string;
      tools: ToolPaths;
      /** The project the scenarios copy (this repository unless TCP_SHIFT_TIER_PROJECT). */
      projectRoot: string;
    };

declare module "vitest" {
  export interface ProvidedContext {
    tier: TierContext;
  }
}
