package mesh

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// PayloadBucket is the object store bucket that carries bodies too large for one
// NATS message. The reader of a body deletes it.
const PayloadBucket = "rewardmesh_payloads"

// headroom leaves space for headers under the server's max payload.
const headroom = 4 << 10

// payloads moves large bodies through the JetStream object store.
type payloads struct {
	nc *nats.Conn

	mu    sync.Mutex
	store jetstream.ObjectStore
}

func newPayloads(nc *nats.Conn) *payloads { return &payloads{nc: nc} }

// fits reports whether a body of n bytes can travel inline.
func (p *payloads) fits(n int) bool { return int64(n)+headroom <= p.nc.MaxPayload() }

func (p *payloads) bucket(ctx context.Context) (jetstream.ObjectStore, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.store != nil {
		return p.store, nil
	}
	js, err := jetstream.New(p.nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	var store jetstream.ObjectStore
	err = ensureStore(ctx, "object store "+PayloadBucket, func(ctx context.Context) (err error) {
		store, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      PayloadBucket,
			Description: "rewardmesh request and response bodies larger than a NATS message",
			TTL:         0,
			Replicas:    Replicas(p.nc),
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w (large payloads need JetStream on the NATS server)", err)
	}
	p.store = store
	return store, nil
}

// put stores body and returns the object's name.
func (p *payloads) put(ctx context.Context, body []byte) (string, error) {
	store, err := p.bucket(ctx)
	if err != nil {
		return "", err
	}
	name := nuid.Next()
	// Each chunk is one message, so it must fit under the server's max payload.
	chunk := uint32(min(int64(128<<10), p.nc.MaxPayload()-headroom))
	meta := jetstream.ObjectMeta{Name: name, Opts: &jetstream.ObjectMetaOptions{ChunkSize: chunk}}
	if _, err := store.Put(ctx, meta, bytes.NewReader(body)); err != nil {
		return "", fmt.Errorf("put payload: %w", err)
	}
	return name, nil
}

// get reads the object.
func (p *payloads) get(ctx context.Context, name string) ([]byte, error) {
	store, err := p.bucket(ctx)
	if err != nil {
		return nil, err
	}
	body, err := store.GetBytes(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("get payload %s: %w", name, err)
	}
	return body, nil
}

// remove deletes the object once nobody will read it again: the caller, after
// its call, for both request and response bodies.
func (p *payloads) remove(ctx context.Context, name string) {
	if store, err := p.bucket(ctx); err == nil {
		_ = store.Delete(ctx, name)
	}
}

// respond answers req with body, through the object store when it is too large.
func (p *payloads) respond(ctx context.Context, req micro.Request, body []byte) error {
	if p.fits(len(body)) {
		return req.Respond(body)
	}
	name, err := p.put(ctx, body)
	if err != nil {
		return respondError(req, reward.Errorf(reward.Internal, "store large response: %v", err))
	}
	return req.Respond(nil, micro.WithHeaders(micro.Headers{headerObject: []string{name}}))
}
