// Command pulumi-language-nodejs is a small Node.js language host for the
// Pulumi CLI, written for this project's real-engine test tier.
//
// Upstream's host lives in its own module
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3), which
// is only published as pseudo-versions that the Go module proxy used here
// refuses, so this is an independent implementation of the same gRPC
// contract (pulumirpc.LanguageRuntime from github.com/pulumi/pulumi/sdk/v3).
// It does what a `pulumi preview/up/destroy` of a Node.js program needs:
//
//   - On start it prints the port of its gRPC server on stdout; the CLI reads
//     that line. The first positional argument is the engine's address.
//   - Run starts `node <...>/@pulumi/pulumi/cmd/run` with the same flags and
//     environment that upstream passes, and maps node's exit status to the
//     RunResponse (exit code 32 = the program already showed the user a
//     message, so the CLI should only bail).
//   - GetRequiredPackages / GetRequiredPlugins find provider plugins in
//     node_modules from package.json "pulumi" sections (or pulumi-plugin.json).
//   - GetPluginInfo, Handshake, About, GetProgramDependencies and Cancel.
//
// Everything else (InstallDependencies, code generation, Pack, Link,
// RunPlugin, ...) answers Unimplemented through the embedded
// UnimplementedLanguageRuntimeServer; the test tier never needs them.
//
// Differences from upstream, on purpose:
//   - No resource-monitor proxy and no `--sync` pipe directory. Upstream
//     proxies the monitor only to serve the synchronous-invoke pipes, and
//     @pulumi/pulumi 3.248's runtime never uses them: settings.js only defines
//     tryGetSyncInvokes(), which nothing calls (invokes are async gRPC calls
//     straight to the monitor). So node gets req.MonitorAddress directly.
//   - Only the "nodejs" runtime (no bun), no debugger attach, no tracing spans
//     of its own (the -tracing value is still passed on to node).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// bailExitCode is the exit status @pulumi/pulumi's run script uses after it
// has already printed a user-facing error (for example a pulumi.RunError or a
// TypeScript diagnostic): the CLI must not add a second error message.
const bailExitCode = 32

// runScript is the module, relative to a node_modules directory, that
// bootstraps a Pulumi program inside node.
const runScript = "@pulumi/pulumi/cmd/run"

func main() {
	tracing := flag.String("tracing", "", "Zipkin-compatible tracing endpoint, passed on to node")
	runtimeName := flag.String("runtime", "nodejs", "JavaScript runtime; only `nodejs` is supported")
	showVersion := flag.Bool("version", false, "Print the plugin version and exit")
	// The logging package registers glog's flags (-v, --logtostderr, ...),
	// which the CLI passes to plugins when run with -v/--logflow.
	flag.Parse()

	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	logging.InitLogging(false, 0, false)

	if *runtimeName != "nodejs" {
		fmt.Fprintf(os.Stderr, "error: unsupported runtime %q (this language host only runs nodejs)\n", *runtimeName)
		os.Exit(1)
	}

	h := newHost(*tracing)

	// Stop serving on SIGINT, or when the engine goes away (the CLI might
	// have been killed without closing us).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if addr := flag.Arg(0); addr != "" {
		h.setEngine(ctx, addr, stop)
	}
	h.stopServing = stop

	cancel := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancel)
	}()

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: could not start the language host gRPC server: %v\n", err)
		os.Exit(1)
	}

	// The CLI reads this first line of stdout to learn where we listen.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "error: language host gRPC server stopped: %v\n", err)
		os.Exit(1)
	}
}

// host implements pulumirpc.LanguageRuntimeServer.
type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	tracing string

	mu            sync.Mutex
	engineAddress string
	healthChecked bool
	// stopServing shuts the gRPC server down (set once in main).
	stopServing context.CancelFunc

	// cancelCtx is cancelled by the Cancel RPC; running programs get SIGINT.
	cancelCtx context.Context
	cancelAll context.CancelFunc
}

func newHost(tracing string) *host {
	ctx, cancel := context.WithCancel(context.Background())
	return &host{tracing: tracing, cancelCtx: ctx, cancelAll: cancel}
}

// setEngine records the engine address and, the first time, starts a health
// check against it so that this process exits when the engine is gone.
func (h *host) setEngine(ctx context.Context, addr string, onGone context.CancelFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.engineAddress = addr
	if h.healthChecked || onGone == nil {
		return
	}
	h.healthChecked = true
	if err := rpcutil.Healthcheck(ctx, addr, 5*time.Minute, onGone); err != nil {
		logging.V(3).Infof("could not start the engine health check: %v", err)
	}
}

func (h *host) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

// Handshake is the first call of a CLI that starts us; it carries the engine
// address (also given as our first argument by current CLIs).
func (h *host) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.setEngine(context.Background(), req.GetEngineAddress(), h.stopServing)
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

// GetPluginInfo reports the version stamped at build time (the CLI's version).
func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// Cancel interrupts any running program (SIGINT, then SIGKILL after a grace
// period, see Run).
func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelAll()
	return &emptypb.Empty{}, nil
}

// ---------------------------------------------------------------------------
// Plugin discovery

// foundPackage is one provider plugin a node package asks for.
type foundPackage struct {
	name, version, server string
	parameterization      *pulumirpc.PackageParameterization
	extension             *pulumirpc.PackageParameterization
}

// packageJSON holds the fields of a package.json that matter here.
type packageJSON struct {
	Name         string                   `json:"name"`
	Version      string                   `json:"version"`
	Pulumi       *plugin.PulumiPluginJSON `json:"pulumi"`
	Dependencies map[string]string        `json:"dependencies"`
	DevDeps      map[string]string        `json:"devDependencies"`
}

// findPackages walks the program directory and every node_modules tree below
// it (following symlinks, each real directory once) and returns the provider
// plugins that packages declare. A package declares one with a package.json
// `"pulumi": {"resource": true, "name"?, "version"?, "server"?}` section or,
// failing that, a pulumi-plugin.json beside its package.json. Nested Pulumi
// policy packs are skipped: their plugins are not the program's. It also
// warns, as upstream does, when two copies of @pulumi/pulumi have
// incompatible major versions.
func findPackages(programDir string) ([]foundPackage, error) {
	w := &walker{visited: map[string]bool{}, sdkVersions: map[string]string{}}
	w.walk(programDir, false)

	// Deterministic output, one entry per distinct plugin.
	seen := map[string]bool{}
	var out []foundPackage
	for i, p := range w.found {
		key := p.name + "@" + p.version + "@" + p.server
		if p.parameterization != nil || p.extension != nil {
			key += "#" + strconv.Itoa(i) // parameterized packages are never merged
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })

	warnIncompatibleSDKs(w.sdkVersions)
	return out, errors.Join(w.errs...)
}

type walker struct {
	visited     map[string]bool
	found       []foundPackage
	sdkVersions map[string]string // package.json path -> @pulumi/pulumi version
	errs        []error
}

func (w *walker) walk(dir string, inNodeModules bool) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		w.errs = append(w.errs, err)
		return
	}
	if real, err = filepath.Abs(real); err != nil {
		w.errs = append(w.errs, err)
		return
	}
	if w.visited[real] {
		return
	}
	w.visited[real] = true

	entries, err := os.ReadDir(real)
	if err != nil {
		w.errs = append(w.errs, err)
		return
	}
	if inNodeModules {
		w.readPackage(real, entries)
	}
	childInNodeModules := inNodeModules || filepath.Base(real) == "node_modules"
	for _, e := range entries {
		child := filepath.Join(real, e.Name())
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			st, err := os.Stat(child)
			if err != nil {
				continue // dangling link: not a package
			}
			isDir = st.IsDir()
		}
		if !isDir || isPolicyPack(child) {
			continue
		}
		w.walk(child, childInNodeModules)
	}
}

func isPolicyPack(dir string) bool {
	for _, name := range []string{"PulumiPolicy.yaml", "PulumiPolicy.yml", "PulumiPolicy.json"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

// readPackage looks at the package.json (and pulumi-plugin.json) of one
// directory inside node_modules.
func (w *walker) readPackage(dir string, entries []os.DirEntry) {
	hasFile := func(name string) bool {
		for _, e := range entries {
			if e.Name() == name && !e.IsDir() {
				return true
			}
		}
		return false
	}
	if !hasFile("package.json") {
		return
	}
	pkgPath := filepath.Join(dir, "package.json")
	var pkg packageJSON
	if err := readJSON(pkgPath, &pkg); err != nil {
		w.errs = append(w.errs, err)
		return
	}
	if pkg.Name == "@pulumi/pulumi" {
		w.sdkVersions[pkgPath] = pkg.Version
	}

	decl := pkg.Pulumi
	if (decl == nil || !decl.Resource) && hasFile("pulumi-plugin.json") {
		var pp plugin.PulumiPluginJSON
		if err := readJSON(filepath.Join(dir, "pulumi-plugin.json"), &pp); err != nil {
			w.errs = append(w.errs, err)
			return
		}
		decl = &pp
	}
	if decl == nil || !decl.Resource {
		return
	}

	name := decl.Name
	if name == "" {
		// Without an explicit name only @pulumi/<x> packages map to plugin <x>.
		rest, ok := strings.CutPrefix(pkg.Name, "@pulumi/")
		if !ok || rest == "" {
			w.errs = append(w.errs, fmt.Errorf(
				"%s: a third-party package must name its plugin in the \"pulumi\" section", pkgPath))
			return
		}
		name = rest
	}
	ver := decl.Version
	if ver == "" {
		ver = pkg.Version
	}
	if ver == "" {
		w.errs = append(w.errs, fmt.Errorf("%s: no version for plugin %s", pkgPath, name))
		return
	}
	if !strings.HasPrefix(ver, "v") {
		ver = "v" + ver
	}
	w.found = append(w.found, foundPackage{
		name:             name,
		version:          ver,
		server:           decl.Server,
		parameterization: toParameterization(decl.Parameterization),
		extension:        toParameterization(decl.ExtensionParameterization),
	})
}

func toParameterization(p *plugin.PulumiParameterizationJSON) *pulumirpc.PackageParameterization {
	if p == nil {
		return nil
	}
	return &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
}

func readJSON(path string, into any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	return nil
}

// warnIncompatibleSDKs tells the user when two copies of @pulumi/pulumi with
// different major versions are installed (their resource registrations do
// not mix).
func warnIncompatibleSDKs(versions map[string]string) {
	paths := make([]string, 0, len(versions))
	for p := range versions {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	major := func(v string) string { m, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), "."); return m }
	for _, p := range paths[min(1, len(paths)):] {
		if major(versions[p]) != major(versions[paths[0]]) {
			fmt.Fprintf(os.Stderr,
				"Found incompatible versions of @pulumi/pulumi. Differing major versions are not supported.\n"+
					"  Version %s referenced at %s\n  Version %s referenced at %s\n",
				versions[paths[0]], paths[0], versions[p], p)
			return
		}
	}
}

// GetRequiredPackages lists the provider packages the program's node_modules
// declare. Errors while walking are logged, not returned (as upstream): a
// broken unrelated package must not stop a deployment.
func (h *host) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	found, err := findPackages(req.GetInfo().GetProgramDirectory())
	if err != nil {
		logging.V(3).Infof("errors while discovering plugins: %v", err)
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, p := range found {
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Name:             p.name,
			Kind:             "resource",
			Version:          p.version,
			Server:           p.server,
			Parameterization: p.parameterization,
			Extension:        p.extension,
		})
	}
	return resp, nil
}

// GetRequiredPlugins is the older form of GetRequiredPackages (no
// parameterized packages), kept for CLIs that still call it.
func (h *host) GetRequiredPlugins(
	_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetProgram() //nolint:staticcheck // older CLIs only set this
	}
	found, err := findPackages(dir)
	if err != nil {
		logging.V(3).Infof("errors while discovering plugins: %v", err)
	}
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, p := range found {
		if p.parameterization != nil || p.extension != nil {
			continue // not expressible as a plain plugin
		}
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
			Name: p.name, Kind: "resource", Version: p.version, Server: p.server,
		})
	}
	return resp, nil
}

// ---------------------------------------------------------------------------
// Running the program

// nodeOptions are the `runtime.options` of Pulumi.yaml that matter here.
type nodeOptions struct {
	typescript bool
	tsconfig   string
	nodeargs   []string
}

func parseOptions(opts map[string]any) (nodeOptions, error) {
	o := nodeOptions{typescript: true}
	if v, ok := opts["typescript"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return o, errors.New("runtime option typescript must be a boolean")
		}
		o.typescript = b
	}
	if v, ok := opts["tsconfig"]; ok {
		s, isString := v.(string)
		if !isString {
			return o, errors.New("runtime option tsconfig must be a string")
		}
		o.tsconfig = s
	}
	if v, ok := opts["nodeargs"]; ok {
		s, isString := v.(string)
		if !isString {
			return o, errors.New("runtime option nodeargs must be a string")
		}
		args, err := splitArgs(s)
		if err != nil {
			return o, fmt.Errorf("runtime option nodeargs: %w", err)
		}
		o.nodeargs = args
	}
	return o, nil
}

// splitArgs splits a command line the way a POSIX shell would for plain
// words, single quotes, double quotes and backslash escapes (no expansion).
func splitArgs(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, fmt.Errorf("unterminated quote or escape in %q", s)
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}

// findRunScript resolves @pulumi/pulumi/cmd/run the way node's require would
// from the program directory: in node_modules of that directory or of any
// parent. PULUMI_LANGUAGE_NODEJS_RUN_PATH overrides it (as upstream).
func findRunScript(programDir string) (string, error) {
	if p := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH"); p != "" && filepath.IsAbs(p) {
		return p, nil
	}
	dir, err := filepath.Abs(programDir)
	if err != nil {
		return "", err
	}
	for {
		candidate := filepath.Join(dir, "node_modules", filepath.FromSlash(runScript), "index.js")
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("It looks like the Pulumi SDK has not been installed. Have you run pulumi install?")
}

// runArguments builds node's command line after any nodeargs: the run
// script, the flags it understands (see its usage text), the entry point and
// the program's own arguments. Empty values are left out, as upstream does.
func (h *host) runArguments(req *pulumirpc.RunRequest, runPath string) []string {
	args := []string{runPath}
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engine())
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("root-directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetInfo().GetProgramDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("tracing", h.tracing)
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	return append(args, req.GetArgs()...)
}

// configJSON renders the stack config for PULUMI_CONFIG. Keys arrive as
// "<namespace>:<name>"; they are handed to node as "<namespace>:config:<name>",
// the older form every @pulumi/pulumi version understands (as upstream does).
func configJSON(cfg map[string]string) (string, error) {
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		key, err := config.ParseKey(k)
		if err != nil {
			return "", err
		}
		out[key.Namespace()+":config:"+key.Name()] = v
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// Run executes the program under node and reports how it ended.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if h.engine() == "" {
		return nil, errors.New("no engine address: Handshake must be called before Run")
	}
	if req.GetAttachDebugger() {
		return &pulumirpc.RunResponse{Error: "this language host does not support attaching a debugger"}, nil
	}
	info := req.GetInfo()
	if info == nil {
		return nil, errors.New("RunRequest has no program info")
	}

	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on the $PATH: " + err.Error()}, nil
	}
	runPath, err := findRunScript(info.GetProgramDirectory())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	opts, err := parseOptions(info.GetOptions().AsMap())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	cfg, err := configJSON(req.GetConfig())
	if err != nil {
		return &pulumirpc.RunResponse{Error: "failed to serialize configuration: " + err.Error()}, nil
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return &pulumirpc.RunResponse{Error: "failed to serialize configuration secret keys: " + err.Error()}, nil
	}

	env := append(os.Environ(),
		"PULUMI_CONFIG="+cfg,
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON),
	)
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}
	args := append(append([]string{}, opts.nodeargs...), h.runArguments(req, runPath)...)
	logging.V(5).Infof("launching %s %s", nodeBin, strings.Join(args, " "))

	// Stop node when the CLI cancels (Cancel RPC) or abandons the request.
	cmdCtx, cmdCancel := context.WithCancel(h.cancelCtx)
	defer cmdCancel()
	stopAfter := context.AfterFunc(ctx, cmdCancel)
	defer stopAfter()

	cmd := exec.CommandContext(cmdCtx, nodeBin, args...)
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	// Hand node pipes, not our own stdout/stderr descriptors: node may switch
	// its stdio to non-blocking mode, which would leak into this process.
	// Wrapping the writers makes exec create pipes and copy.
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	oom := &oomWatch{}
	cmd.Stderr = struct{ io.Writer }{io.MultiWriter(os.Stderr, oom)}

	err = cmd.Run()
	_ = os.Stdout.Sync()
	_ = os.Stderr.Sync()
	if err == nil {
		return &pulumirpc.RunResponse{}, nil
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return &pulumirpc.RunResponse{
			Error: "Problem executing program (could not run language executor): " + err.Error(),
		}, nil
	}
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return &pulumirpc.RunResponse{Error: "Program was terminated by signal " + ws.Signal().String()}, nil
	}
	switch code := exitErr.ExitCode(); code {
	case bailExitCode:
		return &pulumirpc.RunResponse{Bail: true}, nil
	default:
		msg := fmt.Sprintf("Program exited with non-zero exit code: %d", code)
		if oom.seen() {
			msg += ". Node ran out of heap memory; raise it with nodeargs " +
				"(--max-old-space-size=<MiB>) in Pulumi.yaml runtime options or NODE_OPTIONS."
		}
		return &pulumirpc.RunResponse{Error: msg}, nil
	}
}

// oomWatch notices node's "heap out of memory" fatal error in its stderr so
// that the exit message can say what happened.
type oomWatch struct {
	mu   sync.Mutex
	tail []byte
	hit  bool
}

func (o *oomWatch) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.hit {
		buf := append(o.tail, p...)
		if strings.Contains(string(buf), "heap out of memory") {
			o.hit = true
		}
		// Keep enough to match the phrase across two writes.
		o.tail = append(o.tail[:0], buf[max(0, len(buf)-32):]...)
	}
	return len(p), nil
}

func (o *oomWatch) seen() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hit
}

// ---------------------------------------------------------------------------
// About / dependencies (best effort, for `pulumi about` and update metadata)

// About reports the node executable and version and the package manager the
// project appears to use.
func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	resp := &pulumirpc.AboutResponse{Executable: nodeBin, Metadata: map[string]string{}}
	if v, err := commandOutput(ctx, nodeBin, "--version"); err == nil {
		resp.Version = v
	}
	pm := packageManager(req.GetInfo().GetProgramDirectory())
	resp.Metadata["packagemanager"] = pm
	if v, err := commandOutput(ctx, pm, "--version"); err == nil {
		resp.Metadata["packagemanagerVersion"] = v
	}
	return resp, nil
}

func commandOutput(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	return strings.TrimSpace(string(out)), err
}

// packageManager guesses the package manager from the lock file present.
func packageManager(dir string) string {
	for _, c := range []struct{ file, pm string }{
		{"pnpm-lock.yaml", "pnpm"}, {"yarn.lock", "yarn"}, {"bun.lock", "bun"}, {"bun.lockb", "bun"},
	} {
		if _, err := os.Stat(filepath.Join(dir, c.file)); err == nil {
			return c.pm
		}
	}
	return "npm"
}

// GetProgramDependencies lists installed node packages with their versions:
// the program's declared (dev)dependencies, or with TransitiveDependencies
// every package in the nearest node_modules. Read from package.json files
// rather than by running the package manager.
func (h *host) GetProgramDependencies(
	_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetPwd() //nolint:staticcheck // older CLIs only set this
	}
	var names []string
	if req.GetTransitiveDependencies() {
		names = listNodeModules(filepath.Join(dir, "node_modules"))
	} else {
		var pkg packageJSON
		if err := readJSON(filepath.Join(dir, "package.json"), &pkg); err != nil {
			return nil, fmt.Errorf("failed to get node dependencies: %w", err)
		}
		for n := range pkg.Dependencies {
			names = append(names, n)
		}
		for n := range pkg.DevDeps {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, n := range names {
		if v := installedVersion(dir, n); v != "" {
			resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: n, Version: v})
		}
	}
	return resp, nil
}

// listNodeModules returns the package names directly in a node_modules dir.
func listNodeModules(nm string) []string {
	var names []string
	entries, _ := os.ReadDir(nm)
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.HasPrefix(n, "."):
		case strings.HasPrefix(n, "@"):
			scoped, _ := os.ReadDir(filepath.Join(nm, n))
			for _, s := range scoped {
				names = append(names, n+"/"+s.Name())
			}
		default:
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// installedVersion finds a package the way node's require would (this and
// parent directories' node_modules) and returns its version, or "".
func installedVersion(dir, name string) string {
	dir, _ = filepath.Abs(dir)
	for {
		var pkg packageJSON
		if readJSON(filepath.Join(dir, "node_modules", filepath.FromSlash(name), "package.json"), &pkg) == nil {
			return pkg.Version
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
