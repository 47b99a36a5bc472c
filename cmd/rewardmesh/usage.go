package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// help is what `rewardmesh COMMAND -h` prints around the command's flags.
type help struct {
	synopsis string // the command line
	examples string // command lines to copy, one a line
}

// helps are the commands' helps, by the name their flag set is made with
// (newFlagSet). TestEveryCommandHelp runs every command's -h, so a command
// left out of this table fails it.
var helps = map[string]help{
	"up": {"rewardmesh up [--http ADDR] [--nats URL] [--redis URL] [--services a,b] [flags]", `
rewardmesh up                                  # every service, embedded NATS, http://127.0.0.1:8080
rewardmesh up --services math,gateway          # only the math service behind the gateway
rewardmesh up --nats nats://127.0.0.1:4222 --redis redis://127.0.0.1:6379 --http 0.0.0.0:8080
rewardmesh up --nats nats://h1:4222,nats://h2:4222,nats://h3:4222   # a NATS cluster; the stores at R3`},
	"serve": {"rewardmesh serve gateway|math|rm|sandbox|swe --nats URL [flags]", `
rewardmesh serve math --nats nats://127.0.0.1:4222    # one more math replica for the mesh
rewardmesh serve sandbox --nats nats://127.0.0.1:4222 --metrics 0.0.0.0:9102   # its stage timings at :9102/metrics
rewardmesh serve gateway --nats nats://127.0.0.1:4222 --http 0.0.0.0:8080 --redis redis://127.0.0.1:6379
rewardmesh serve trainer -h                           # the trainer joined to the mesh takes train's flags`},
	"serve trainer": {"rewardmesh serve trainer --nats URL [train's flags]", `
rewardmesh serve trainer --nats nats://127.0.0.1:4222 --task sort3 --steps 1000 --out runs/sort3`},
	"train": {"rewardmesh train --task sort3 --steps N --backend cpu|cuda --out DIR [--nats URL] [--resume] [flags]", `
rewardmesh train --task sort3 --steps 1000 --backend cpu --out runs/sort3   # rewards from a mesh in this process
rewardmesh train --steps 2000 --out runs/sort3 --resume                     # carry a stopped run on to step 2000
rewardmesh train --steps 1000 --out runs/sort3 --nats nats://127.0.0.1:4222 # rewards from a running mesh`},
	"nats": {"rewardmesh nats [--addr HOST:PORT] [--data DIR] [--cluster HOST:PORT --routes URL,URL --name NAME]", `
rewardmesh nats                                  # 127.0.0.1:4222, JetStream in a temporary folder
rewardmesh nats --addr 0.0.0.0:4222 --data /data # as docker-compose runs it
rewardmesh nats --addr 0.0.0.0:4222 --data /data --cluster 0.0.0.0:6222 --name nats1 \
    --routes nats://nats1:6222,nats://nats2:6222,nats://nats3:6222   # one of three servers on three machines`},
	"images build": {"rewardmesh images build [--languages python,cpp,...] [--force] [--base IMAGE] [--mirror URL] [--cache-dir DIR]", `
rewardmesh images build                          # every image; a debootstrap base where no registry answers
rewardmesh images build --languages cpp --force  # rebuild the C++ image
rewardmesh images build --languages java,node    # Java and Kotlin; JavaScript and TypeScript
rewardmesh images build --mirror http://deb.debian.org/debian`},
	"images list": {"rewardmesh images list", `
rewardmesh images list                           # each image: built or missing, its size, its languages' versions`},
	"stats": {"rewardmesh stats [SERVICE...] [--nats URL,URL] [--wait 1s]", `
rewardmesh stats --nats nats://127.0.0.1:4222    # every replica of every service, then the JetStream stores and their replicas
rewardmesh stats sandbox math --wait 3s`},
	"bench": {"rewardmesh bench TARGET [flags]", `
rewardmesh bench gateway                         # cached against scored items, mesh against bare NATS
rewardmesh bench load --duration 30s             # sustained mixed load at a mesh in this process
rewardmesh bench math -h                         # a target's flags`},
	"bench gateway": {"rewardmesh bench gateway [--batch 256] [--requests 200] [--clients 4] [--calls 2000]", `
rewardmesh bench gateway
rewardmesh bench gateway --batch 64 --clients 8`},
	"bench load": {"rewardmesh bench load [--server URL] [--duration 60s] [--max-requests N] [--cluster 3] [flags]", `
rewardmesh bench load --duration 30s             # the mesh runs in this process
rewardmesh bench load --duration 30s --cluster 3 --code 0   # one NATS server, then a cluster of three, the same math load
rewardmesh bench load --server http://127.0.0.1:8080 --max-requests 5000 --code 0.5`},
	"bench math": {"rewardmesh bench math [--dir DIR] [--rounds 20]", `
rewardmesh bench math                            # the conformance pairs of ../shared/conformance/math
rewardmesh bench math --rounds 5`},
	"bench runcode": {"rewardmesh bench runcode [--clients 1,2,64] [--tests-per-problem N] [--load FILE] [--server URL]", `
rewardmesh bench runcode                         # verl's load: every CodeContests test is one /run_code request
rewardmesh bench runcode --clients 64 --tests-per-problem 20 --server http://127.0.0.1:8080`},
	"bench sandbox": {"rewardmesh bench sandbox [--tests 200] [--single 100] [--isolation process,fork] [--load FILE] [--languages all|python,java,...]", `
rewardmesh bench sandbox
rewardmesh bench sandbox --isolation fork        # Python rows for the fork server's copies only
rewardmesh bench sandbox --languages all --tests 20   # each language's overhead per test, side by side
rewardmesh bench sandbox --load ''               # the overhead and single-run rows only, no throughput run`},
	"bench swe": {"rewardmesh bench swe [--pairs FILE]", `
rewardmesh bench swe                             # the difflib pairs of ../shared/conformance/swe`},
	"bench trainer": {"rewardmesh bench trainer", `
rewardmesh bench trainer                         # training tokens/s per policy backend`},
}

// helpFor is the named command's help; one missing from helps gets a bare
// command line.
func helpFor(name string) help {
	if h, ok := helps[name]; ok {
		return h
	}
	return help{synopsis: "rewardmesh " + name + " [flags]"}
}

// write prints the help; flags, when not nil, prints the flags and their defaults.
func (h help) write(w io.Writer, flags func(io.Writer)) {
	fmt.Fprintf(w, "usage: %s\n", h.synopsis)
	if flags != nil {
		fmt.Fprintln(w, "\nflags:")
		flags(w)
	}
	if h.examples != "" {
		fmt.Fprintln(w, "\nexamples:")
		for _, line := range strings.Split(strings.TrimPrefix(h.examples, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

// newFlagSet makes a command's flags. The flag package calls Usage on -h and
// after a bad flag; run prints the help then: to stdout when it was asked for,
// to stderr after the error.
func newFlagSet(name string, env *environment) *flag.FlagSet {
	fs := flag.NewFlagSet("rewardmesh "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		var flags func(io.Writer)
		fs.VisitAll(func(*flag.Flag) {
			flags = func(w io.Writer) {
				fs.SetOutput(w)
				fs.PrintDefaults()
			}
		})
		env.usage = func(w io.Writer) { helpFor(name).write(w, flags) }
	}
	return fs
}

// showHelp has run print the help h, and stop.
func showHelp(env *environment, h help, flags func(io.Writer)) error {
	env.usage = func(w io.Writer) { h.write(w, flags) }
	return flag.ErrHelp
}

// isHelp reports whether a command's first argument asks for its help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}
