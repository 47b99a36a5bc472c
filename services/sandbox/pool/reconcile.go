package pool

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Reconcile removes sandbox containers nobody owns: every labelled container
// that is not running (its agent exits when its owner's stream closes), and
// running ones whose owner was a process on this host that is gone. owns says
// whether a container of self's is still in use; self's containers that are
// not, and are older than a minute (creation may be under way), are removed too.
// It returns how many it removed.
func Reconcile(ctx context.Context, docker *client.Client, self Owner, owns func(id string) bool) (int, error) {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	list, err := docker.ContainerList(lctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelSandbox),
	})
	if err != nil {
		return 0, fmt.Errorf("list sandbox containers: %w", err)
	}
	removed := 0
	var firstErr error
	for _, c := range list.Items {
		if c.State == "removing" {
			// Already being removed by the daemon; asking again answers "no such
			// container" for as long as that takes (a stuck removal can last forever).
			continue
		}
		if !orphaned(c.Labels, string(c.State), time.Unix(c.Created, 0), self, owns, c.ID) {
			continue
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		_, err := docker.ContainerRemove(rctx, c.ID, client.ContainerRemoveOptions{Force: true})
		cancel()
		if cerrdefs.IsNotFound(err) {
			continue // gone since the list: removed by its owner or by Docker
		}
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("remove orphaned container %s: %w", short(c.ID), err)
			}
			continue
		}
		removed++
	}
	return removed, firstErr
}

func orphaned(labels map[string]string, state string, created time.Time, self Owner, owns func(string) bool, id string) bool {
	owner := labels[LabelOwner]
	if owner == self.ID {
		return !owns(id) && time.Since(created) > time.Minute
	}
	if state != "running" && state != "created" && state != "restarting" {
		return true
	}
	if state == "created" && time.Since(created) > time.Minute {
		return true
	}
	if labels[LabelHost] != self.Host {
		// Another host's owner: its containers stop on their own when it goes.
		return false
	}
	pid, err := strconv.Atoi(labels[LabelPID])
	if err != nil || pid <= 0 {
		return true
	}
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	// A pid reused by a later process is not the owner.
	start := labels[LabelStart]
	return start != "" && processStart(pid) != "" && processStart(pid) != start
}
