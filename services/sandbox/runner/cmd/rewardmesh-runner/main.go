// Command rewardmesh-runner is the sandbox's in-container agent: the main process
// of every sandbox container, answering the service on its stdin and stdout. Build
// it static: CGO_ENABLED=0 go build ./services/sandbox/runner/cmd/rewardmesh-runner.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rewardmesh-runner:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("rewardmesh-runner", flag.ContinueOnError)
	work := fs.String("work", "/work", "directory programs run in")
	wipe := fs.String("wipe", "/work,/tmp,/dev/shm,/dev/mqueue", "comma-separated directories a reset empties")
	if err := fs.Parse(args); err != nil {
		return err
	}
	agent := &runner.Agent{WorkDir: *work, Wipe: strings.Split(*wipe, ",")}
	return agent.Serve(os.Stdin, os.Stdout)
}
