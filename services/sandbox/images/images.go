// Package images builds the sandbox's Docker images from sandbox-images/, one
// an image (a runtime and the languages it runs), each holding the static
// runner agent. Where Docker can pull,
// they build on debian:bookworm-slim; where it cannot (CI, air-gapped hosts) the
// base is bootstrapped with debootstrap from a Debian mirror and imported, and the
// bootstrap is cached so a rerun costs only the import.
package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	sandboximages "github.com/rewardmesh/rewardmesh/sandbox-images"
	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
)

// Language is a language the sandbox runs.
type Language string

const (
	Python Language = "python" // CPython 3 and bash
	Cpp    Language = "cpp"    // C, C++17, C++20
	Java   Language = "java"   // Java (OpenJDK 17) and Kotlin
	Go     Language = "go"
	Node   Language = "node" // JavaScript and TypeScript
	Rust   Language = "rust"
	Ruby   Language = "ruby"
	PyPy   Language = "pypy"
)

// Languages lists every image, in build order: the two every sandbox starts
// first, then the rest, smallest first.
var Languages = []Language{Python, Cpp, Ruby, PyPy, Node, Go, Rust, Java}

// Tag is the image a language runs in. The tag carries the runner's protocol
// version, so a service never talks to an agent that speaks another protocol.
func Tag(lang Language) string {
	return "rewardmesh/sandbox-" + string(lang) + ":v" + strconv.Itoa(runner.ProtocolVersion)
}

const (
	// UpstreamBase is the base the Dockerfiles name by default.
	UpstreamBase = "debian:bookworm-slim"
	// LocalBase is the base BuildImages bootstraps when UpstreamBase cannot be had.
	LocalBase = "rewardmesh/base:bookworm"
)

// BuildOptions says how to build.
type BuildOptions struct {
	// Languages to build; all when empty.
	Languages []Language
	// Force rebuilds images that already exist.
	Force bool
	// Base is the image to build on. Empty: UpstreamBase if it is present or can be
	// pulled, else LocalBase, bootstrapped when missing.
	Base string
	// Mirror is the Debian mirror for debootstrap and apt (default deb.debian.org).
	Mirror string
	// CacheDir keeps the debootstrap tarball (default: the user cache dir,
	// rewardmesh/sandbox).
	CacheDir string
	// RunnerBinary is a prebuilt static rewardmesh-runner. Empty: built with the Go
	// toolchain from SourceDir.
	RunnerBinary string
	// SourceDir is a directory inside the rewardmesh checkout (default: the working
	// directory), used to build the runner.
	SourceDir string
	// Network is the network RUN steps use (default "host", so apt reaches the
	// mirror the host reaches, proxies and /etc/hosts included).
	Network string
	// PullTimeout bounds the attempt to pull UpstreamBase (default 60s).
	PullTimeout time.Duration
}

// Missing reports which languages' images are absent. It is what the service
// checks at start-up, to build them or say what to run.
func Missing(ctx context.Context, docker *client.Client, langs []Language) ([]Language, error) {
	if len(langs) == 0 {
		langs = Languages
	}
	var missing []Language
	for _, lang := range langs {
		ok, err := imageExists(ctx, docker, Tag(lang))
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, lang)
		}
	}
	return missing, nil
}

// BuildImages builds the sandbox images, writing progress to log.
func BuildImages(ctx context.Context, opts BuildOptions, log io.Writer) error {
	docker, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("connect to docker: %w", err)
	}
	defer docker.Close()
	return Build(ctx, docker, opts, log)
}

// Build is BuildImages on an existing client.
func Build(ctx context.Context, docker *client.Client, opts BuildOptions, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	langs := opts.Languages
	if len(langs) == 0 {
		langs = Languages
	}
	if !opts.Force {
		missing, err := Missing(ctx, docker, langs)
		if err != nil {
			return err
		}
		if len(missing) == 0 {
			fmt.Fprintln(log, "sandbox images are up to date:", tags(langs))
			return nil
		}
		langs = missing
	}
	base, err := resolveBase(ctx, docker, opts, log)
	if err != nil {
		return err
	}
	runnerBin, err := runnerBinary(ctx, opts, log)
	if err != nil {
		return err
	}
	for _, lang := range langs {
		if err := buildImage(ctx, docker, lang, base, runnerBin, opts, log); err != nil {
			return err
		}
	}
	return nil
}

func tags(langs []Language) string {
	var out []string
	for _, l := range langs {
		out = append(out, Tag(l))
	}
	return strings.Join(out, " ")
}

func imageExists(ctx context.Context, docker *client.Client, ref string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := docker.ImageInspect(ctx, ref)
	if err == nil {
		return true, nil
	}
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("inspect image %s: %w", ref, err)
}

// resolveBase finds or makes the base image.
func resolveBase(ctx context.Context, docker *client.Client, opts BuildOptions, log io.Writer) (string, error) {
	if opts.Base != "" {
		return opts.Base, nil
	}
	if ok, err := imageExists(ctx, docker, UpstreamBase); err != nil {
		return "", err
	} else if ok {
		return UpstreamBase, nil
	}
	if ok, err := imageExists(ctx, docker, LocalBase); err != nil {
		return "", err
	} else if ok {
		fmt.Fprintln(log, "using bootstrapped base", LocalBase)
		return LocalBase, nil
	}
	timeout := opts.PullTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	fmt.Fprintln(log, "pulling", UpstreamBase)
	if err := pull(ctx, docker, UpstreamBase, timeout); err == nil {
		return UpstreamBase, nil
	} else {
		fmt.Fprintf(log, "cannot pull %s (%v); bootstrapping %s with debootstrap\n", UpstreamBase, err, LocalBase)
	}
	if err := bootstrapBase(ctx, docker, opts, log); err != nil {
		return "", err
	}
	return LocalBase, nil
}

func pull(ctx context.Context, docker *client.Client, ref string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := docker.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	defer resp.Close()
	if err := resp.Wait(ctx); err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	return nil
}

func mirror(opts BuildOptions) string {
	if opts.Mirror != "" {
		return opts.Mirror
	}
	return "http://deb.debian.org/debian"
}

func cacheDir(opts BuildOptions) (string, error) {
	if opts.CacheDir != "" {
		return opts.CacheDir, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a cache directory (set BuildOptions.CacheDir): %w", err)
	}
	return filepath.Join(dir, "rewardmesh", "sandbox"), nil
}

// bootstrapBase makes LocalBase: a minbase Debian bookworm root from debootstrap,
// tarred once into the cache dir and imported.
func bootstrapBase(ctx context.Context, docker *client.Client, opts BuildOptions, log io.Writer) error {
	dir, err := cacheDir(opts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cache dir: %w", err)
	}
	tarball := filepath.Join(dir, "bookworm-minbase.tar")
	if _, err := os.Stat(tarball); err != nil {
		if err := debootstrap(ctx, dir, tarball, mirror(opts), log); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(log, "using cached bootstrap", tarball)
	}
	f, err := os.Open(tarball)
	if err != nil {
		return fmt.Errorf("open bootstrap tarball: %w", err)
	}
	defer f.Close()
	ictx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	fmt.Fprintln(log, "importing", tarball, "as", LocalBase)
	res, err := docker.ImageImport(ictx, client.ImageImportSource{Source: f, SourceName: "-"}, LocalBase, client.ImageImportOptions{
		Message: "debootstrap --variant=minbase bookworm " + mirror(opts),
		Changes: []string{`CMD ["/bin/bash"]`, "ENV LANG=C.UTF-8"},
	})
	if err != nil {
		return fmt.Errorf("import %s: %w", LocalBase, err)
	}
	defer res.Close()
	if _, err := io.Copy(io.Discard, res); err != nil {
		return fmt.Errorf("import %s: %w", LocalBase, err)
	}
	if ok, err := imageExists(ctx, docker, LocalBase); err != nil || !ok {
		return fmt.Errorf("import %s: image missing after import (%v)", LocalBase, err)
	}
	return nil
}

func debootstrap(ctx context.Context, dir, tarball, mirror string, log io.Writer) error {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return errors.New("no registry is reachable and debootstrap is not installed: apt-get install debootstrap (it also needs root)")
	}
	root := filepath.Join(dir, "rootfs")
	if err := os.RemoveAll(root); err != nil {
		return fmt.Errorf("clear %s: %w", root, err)
	}
	defer os.RemoveAll(root)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	fmt.Fprintln(log, "debootstrap --variant=minbase bookworm", root, mirror)
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "bookworm", root, mirror)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("debootstrap bookworm: %w", err)
	}
	// The images run apt-get update themselves; the downloaded packages and lists
	// would only make the base larger.
	for _, junk := range []string{"var/cache/apt/archives", "var/lib/apt/lists"} {
		entries, _ := os.ReadDir(filepath.Join(root, junk))
		for _, e := range entries {
			if e.Type().IsRegular() {
				_ = os.Remove(filepath.Join(root, junk, e.Name()))
			}
		}
	}
	tmp := tarball + ".tmp"
	cmd = exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", root, "-cf", tmp, ".")
	cmd.Stderr = log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("tar the bootstrap: %w", err)
	}
	if err := os.Rename(tmp, tarball); err != nil {
		return fmt.Errorf("keep the bootstrap tarball: %w", err)
	}
	return nil
}

// runnerBinary returns the static runner agent to put in the images.
func runnerBinary(ctx context.Context, opts BuildOptions, log io.Writer) ([]byte, error) {
	if opts.RunnerBinary != "" {
		data, err := os.ReadFile(opts.RunnerBinary)
		if err != nil {
			return nil, fmt.Errorf("read runner binary: %w", err)
		}
		return data, nil
	}
	if _, err := exec.LookPath("go"); err != nil {
		return nil, errors.New("building the runner agent needs the Go toolchain, or BuildOptions.RunnerBinary (CGO_ENABLED=0 go build ./services/sandbox/runner/cmd/rewardmesh-runner)")
	}
	tmp, err := os.MkdirTemp("", "rewardmesh-runner-")
	if err != nil {
		return nil, fmt.Errorf("temp dir for the runner: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "rewardmesh-runner")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	fmt.Fprintln(log, "building the runner agent (CGO_ENABLED=0)")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out,
		"github.com/rewardmesh/rewardmesh/services/sandbox/runner/cmd/rewardmesh-runner")
	cmd.Dir = opts.SourceDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("build the runner agent (run from the rewardmesh checkout or set BuildOptions.SourceDir): %w", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("read runner binary: %w", err)
	}
	return data, nil
}

func buildImage(ctx context.Context, docker *client.Client, lang Language, base string, runnerBin []byte, opts BuildOptions, log io.Writer) error {
	name := string(lang) + ".Dockerfile"
	dockerfile, err := sandboximages.Dockerfiles.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, dockerfile}, {"rewardmesh-runner", 0o755, runnerBin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	network := opts.Network
	if network == "" {
		network = "host"
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	fmt.Fprintf(log, "building %s on %s\n", Tag(lang), base)
	res, err := docker.ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Tags:        []string{Tag(lang)},
		Dockerfile:  "Dockerfile",
		BuildArgs:   map[string]*string{"BASE": &base},
		NetworkMode: network,
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{"rewardmesh.sandbox.protocol": strconv.Itoa(runner.ProtocolVersion)},
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", Tag(lang), err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("build %s: read progress: %w", Tag(lang), err)
		}
		if msg.Error != "" {
			return fmt.Errorf("build %s: %s", Tag(lang), msg.Error)
		}
		fmt.Fprint(log, msg.Stream)
	}
	if ok, err := imageExists(ctx, docker, Tag(lang)); err != nil || !ok {
		return fmt.Errorf("build %s: image missing after the build (%v)", Tag(lang), err)
	}
	return nil
}

// VersionsFile is where an image records its languages' versions, one
// "language: version" line each, written when it is built.
const VersionsFile = "/usr/local/share/rewardmesh/versions"

// Image is what List reports of one image.
type Image struct {
	Language Language
	Tag      string
	Present  bool
	SizeMB   int64
	Versions []string // VersionsFile's lines
}

// List reports every image: whether it is built, and the versions it holds,
// read from a container created (never started) from it.
func List(ctx context.Context, docker *client.Client) ([]Image, error) {
	var out []Image
	for _, lang := range Languages {
		im := Image{Language: lang, Tag: Tag(lang)}
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		inspect, err := docker.ImageInspect(ictx, im.Tag)
		cancel()
		switch {
		case cerrdefs.IsNotFound(err):
			out = append(out, im)
			continue
		case err != nil:
			return nil, fmt.Errorf("inspect image %s: %w", im.Tag, err)
		}
		im.Present, im.SizeMB = true, inspect.Size>>20
		if im.Versions, err = versions(ctx, docker, im.Tag); err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, nil
}

func versions(ctx context.Context, docker *client.Client, tag string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	created, err := docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Image:  tag,
		Config: &container.Config{Labels: map[string]string{"rewardmesh.sandbox.versions": "1"}, NetworkDisabled: true},
	})
	if err != nil {
		return nil, fmt.Errorf("create a container of %s: %w", tag, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = docker.ContainerRemove(rctx, created.ID, client.ContainerRemoveOptions{Force: true})
	}()
	res, err := docker.CopyFromContainer(ctx, created.ID, client.CopyFromContainerOptions{SourcePath: VersionsFile})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, nil // an image built before versions were recorded
		}
		return nil, fmt.Errorf("read %s from %s: %w", VersionsFile, tag, err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	if _, err := tr.Next(); err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", VersionsFile, tag, err)
	}
	data, err := io.ReadAll(io.LimitReader(tr, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", VersionsFile, tag, err)
	}
	var lines []string
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return lines, nil
}
