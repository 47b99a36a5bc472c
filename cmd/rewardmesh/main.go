// Command rewardmesh runs the reward mesh: every service in one process (`up`),
// one service against an external NATS (`serve`), and the batch tools.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rewardmesh:", err)
		os.Exit(1)
	}
}
