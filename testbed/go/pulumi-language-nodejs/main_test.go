package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestSplitArgs(t *testing.T) {
	for in, want := range map[string][]string{
		"":                          nil,
		"--max-old-space-size=4096": {"--max-old-space-size=4096"},
		`  -r  "a b"  'c d' e\ f `:  {"-r", "a b", "c d", "e f"},
		`--title="x \"y\""`:         {`--title=x "y"`},
		`''`:                        {""},
	} {
		got, err := splitArgs(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := splitArgs(`"open`); err == nil {
		t.Error("an unterminated quote must fail")
	}
}

func TestConfigJSONUsesTheOldKeyForm(t *testing.T) {
	got, err := configJSON(map[string]string{"proj:x": "1", "kubernetes:context": "c"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"proj:config:x": "1", "kubernetes:config:context": "c"}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("configJSON = %v; want %v", m, want)
	}
}

func TestParseOptionsDefaultsToTypeScript(t *testing.T) {
	o, err := parseOptions(map[string]any{})
	if err != nil || !o.typescript {
		t.Fatalf("default options = %+v, %v", o, err)
	}
	o, err = parseOptions(map[string]any{"typescript": false, "tsconfig": "t.json", "nodeargs": "--a 'b c'"})
	if err != nil || o.typescript || o.tsconfig != "t.json" || !reflect.DeepEqual(o.nodeargs, []string{"--a", "b c"}) {
		t.Fatalf("options = %+v, %v", o, err)
	}
	if _, err := parseOptions(map[string]any{"typescript": "yes"}); err == nil {
		t.Error("a non-boolean typescript option must fail")
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindPackages(t *testing.T) {
	dir := t.TempDir()
	nm := filepath.Join(dir, "node_modules")
	writeFile(t, filepath.Join(dir, "package.json"), `{"name":"prog","pulumi":{"resource":true}}`) // not in node_modules
	writeFile(t, filepath.Join(nm, "@pulumi", "pulumi", "package.json"), `{"name":"@pulumi/pulumi","version":"3.248.0"}`)
	writeFile(t, filepath.Join(nm, "@pulumi", "kubernetes", "package.json"),
		`{"name":"@pulumi/kubernetes","version":"4.34.2","pulumi":{"resource":true,"name":"kubernetes","version":"4.34.2"}}`)
	writeFile(t, filepath.Join(nm, "@pulumi", "random", "package.json"),
		`{"name":"@pulumi/random","version":"4.1.0","pulumi":{"resource":true}}`)
	// A package that declares its plugin only through pulumi-plugin.json.
	writeFile(t, filepath.Join(nm, "acme-provider", "package.json"), `{"name":"acme-provider","version":"1.0.0"}`)
	writeFile(t, filepath.Join(nm, "acme-provider", "pulumi-plugin.json"),
		`{"resource":true,"name":"acme","version":"0.3.0","server":"https://example.invalid"}`)
	// Nested copy (deduplicated) and a policy pack (skipped).
	writeFile(t, filepath.Join(nm, "x", "node_modules", "@pulumi", "kubernetes", "package.json"),
		`{"name":"@pulumi/kubernetes","version":"4.34.2","pulumi":{"resource":true,"name":"kubernetes","version":"4.34.2"}}`)
	writeFile(t, filepath.Join(dir, "policy", "PulumiPolicy.yaml"), "runtime: nodejs\n")
	writeFile(t, filepath.Join(dir, "policy", "node_modules", "@pulumi", "aws", "package.json"),
		`{"name":"@pulumi/aws","version":"7.0.0","pulumi":{"resource":true}}`)
	// A symlink loop must not hang the walk.
	if err := os.Symlink(nm, filepath.Join(nm, "x", "loop")); err != nil {
		t.Fatal(err)
	}

	found, err := findPackages(dir)
	if err != nil {
		t.Fatalf("findPackages: %v", err)
	}
	var got []string
	for _, p := range found {
		got = append(got, p.name+"@"+p.version+"@"+p.server)
	}
	want := []string{"acme@v0.3.0@https://example.invalid", "kubernetes@v4.34.2@", "random@v4.1.0@"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findPackages = %q; want %q", got, want)
	}
}

func TestRunArguments(t *testing.T) {
	h := newHost("")
	h.engineAddress = "127.0.0.1:1"
	opts, _ := structpb.NewStruct(map[string]any{})
	req := &pulumirpc.RunRequest{
		MonitorAddress: "127.0.0.1:2",
		Project:        "p",
		Stack:          "dev",
		DryRun:         true,
		Parallel:       8,
		Args:           []string{"extra"},
		Info: &pulumirpc.ProgramInfo{
			RootDirectory: "/r", ProgramDirectory: "/r/prog", EntryPoint: ".", Options: opts,
		},
	}
	got := h.runArguments(req, "/run")
	want := []string{
		"/run", "--monitor", "127.0.0.1:2", "--engine", "127.0.0.1:1", "--project", "p",
		"--root-directory", "/r", "--stack", "dev", "--pwd", "/r/prog", "--dry-run", "--parallel", "8",
		".", "extra",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("runArguments =\n%q\nwant\n%q", got, want)
	}
}
