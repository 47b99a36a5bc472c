package pool

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// LabelUsr marks the volumes that hold an image's /usr (value: the pool name).
const LabelUsr = "rewardmesh.sandbox.usr"

// usrVolume returns the name of a Docker volume holding a copy of the image's
// /usr, creating and filling it the first time. Containers mount it read-only
// over /usr. Why: on storage drivers that serve the image through FUSE
// (fuse-overlayfs, as rootless and nested Docker use), every file a program
// opens or maps costs a round trip to the FUSE daemon; a Python start opens
// some hundred files, and measured 5–7 ms slower from the image than from a
// volume, which lives on the host's own filesystem.
func (p *Pool) usrVolume(ctx context.Context) (string, error) {
	docker := p.cfg.Docker
	img, err := docker.ImageInspect(ctx, p.cfg.Image)
	if err != nil {
		return "", fmt.Errorf("inspect %s: %w", p.cfg.Image, err)
	}
	id := strings.TrimPrefix(img.ID, "sha256:")
	name := "rewardmesh-sandbox-usr-" + p.cfg.Name + "-" + id[:min(16, len(id))]
	p.removeStaleVolumes(ctx, name)
	if _, err := docker.VolumeInspect(ctx, name, client.VolumeInspectOptions{}); err == nil {
		return name, nil
	}
	if _, err := docker.VolumeCreate(ctx, client.VolumeCreateOptions{
		Name:   name,
		Labels: map[string]string{LabelUsr: p.cfg.Name, "rewardmesh.sandbox.image": img.ID},
	}); err != nil {
		return "", fmt.Errorf("create volume %s: %w", name, err)
	}
	// Docker copies the image's content into an empty volume when a container
	// first mounts it; a throwaway container does that here. Its agent finds no
	// stdin and exits at once.
	created, err := docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:           p.cfg.Image,
			NetworkDisabled: true,
			Labels:          map[string]string{LabelSandbox: p.cfg.Name, LabelOwner: p.cfg.Owner.ID, LabelHost: p.cfg.Owner.Host},
		},
		HostConfig: &container.HostConfig{
			NetworkMode: "none",
			Mounts:      []mount.Mount{{Type: mount.TypeVolume, Source: name, Target: "/usr"}},
			LogConfig:   container.LogConfig{Type: "none"},
		},
	})
	if err != nil {
		p.dropVolume(name)
		return "", fmt.Errorf("fill volume %s: %w", name, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = docker.ContainerRemove(rctx, created.ID, client.ContainerRemoveOptions{Force: true})
	}()
	wait := docker.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := docker.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		p.dropVolume(name)
		return "", fmt.Errorf("fill volume %s: %w", name, err)
	}
	select {
	case <-wait.Result:
	case err := <-wait.Error:
		p.dropVolume(name)
		return "", fmt.Errorf("fill volume %s: %w", name, err)
	case <-ctx.Done():
		p.dropVolume(name)
		return "", fmt.Errorf("fill volume %s: %w", name, ctx.Err())
	}
	return name, nil
}

// dropVolume removes a volume that may be only partly filled.
func (p *Pool) dropVolume(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = p.cfg.Docker.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true})
}

// removeStaleVolumes removes this pool's /usr volumes of earlier images; one
// still mounted by a container is left for a later start.
func (p *Pool) removeStaleVolumes(ctx context.Context, keep string) {
	list, err := p.cfg.Docker.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", LabelUsr+"="+p.cfg.Name)})
	if err != nil {
		return
	}
	for _, v := range list.Items {
		if v.Name != keep {
			_, _ = p.cfg.Docker.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{})
		}
	}
}

// usrMounts returns the mounts a new container gets: the /usr volume when the
// pool has one ready, else none (the image's own /usr serves).
func (p *Pool) usrMounts(ctx context.Context) []mount.Mount {
	if !p.cfg.UsrVolume {
		return nil
	}
	p.volMu.Lock()
	defer p.volMu.Unlock()
	if !p.volTried {
		p.volTried = true
		vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		name, err := p.usrVolume(vctx)
		cancel()
		if err != nil {
			p.log.Warn("running without a /usr volume", "err", err)
		}
		p.volName = name
	}
	if p.volName == "" {
		return nil
	}
	return []mount.Mount{{Type: mount.TypeVolume, Source: p.volName, Target: "/usr", ReadOnly: true,
		VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}
}

// volumeFailed gives up the /usr volume after a container could not start on it.
func (p *Pool) volumeFailed(name string) {
	p.volMu.Lock()
	defer p.volMu.Unlock()
	if p.volName == name && name != "" {
		p.log.Warn("a container failed on the /usr volume; running without it", "volume", name)
		p.volName = ""
		go p.dropVolume(name)
	}
}
