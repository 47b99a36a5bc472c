package mesh

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Client calls mesh services.
type Client struct {
	nc       *nats.Conn
	payloads *payloads
	// Timeout bounds a call whose context has no deadline.
	Timeout time.Duration
	// Silence is how long a call waits without a word from the replica working
	// on it (its answer or a heartbeat) before taking that replica for dead and
	// sending the request again; the queue group gives it to a live replica. The
	// dead one never answered, so each request is still answered once.
	Silence time.Duration
	// Attempts bounds how often a request is sent when replicas fall silent.
	Attempts int
}

// NewClient returns a client over nc.
func NewClient(nc *nats.Conn) *Client {
	return &Client{nc: nc, payloads: newPayloads(nc), Timeout: 5 * time.Minute, Silence: 5 * time.Second, Attempts: 3}
}

// Conn is the client's NATS connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

// errSilent: the replica stopped answering (died, or lost its connection).
var errSilent = errors.New("replica fell silent")

// Call sends payload to service's op and returns the response body. A service
// error comes back as a *reward.Error with the service's code; no responder is
// reward.Unavailable, and a deadline passed is reward.Timeout.
func (c *Client) Call(ctx context.Context, service, op string, payload []byte) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	msg := nats.NewMsg(Subject(service, op))
	msg.Header.Set(headerDeadline, strconv.FormatInt(deadline.UnixMilli(), 10))
	if c.payloads.fits(len(payload)) {
		msg.Data = payload
	} else {
		name, err := c.payloads.put(ctx, payload)
		if err != nil {
			return nil, reward.Errorf(reward.TooLarge, "request of %d bytes: %v", len(payload), err)
		}
		// The request body stays until the call is over: a retry sends it again.
		defer c.payloads.remove(context.WithoutCancel(ctx), name)
		msg.Header.Set(headerObject, name)
	}
	attempts := max(c.Attempts, 1)
	var resp *nats.Msg
	var err error
	for attempt := 1; ; attempt++ {
		resp, err = c.roundTrip(ctx, msg)
		if !errors.Is(err, errSilent) || attempt >= attempts {
			break
		}
	}
	var failed *reward.Error
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		failed = reward.Errorf(reward.Unavailable, "service %s is not running", service)
	case errors.Is(err, errSilent):
		failed = reward.Errorf(reward.Unavailable, "%s.%s: %d replicas fell silent in turn", service, op, attempts)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		failed = reward.Errorf(reward.Timeout, "%s.%s did not answer in time", service, op)
	case errors.Is(err, context.Canceled):
		failed = reward.Errorf(reward.Timeout, "%s.%s: request canceled", service, op)
	case err != nil:
		failed = reward.Errorf(reward.Unavailable, "call %s.%s: %v", service, op, err)
	}
	if failed != nil {
		failed.Retryable = true // the mesh failed, not the request
		return nil, failed
	}
	if code := resp.Header.Get(micro.ErrorCodeHeader); code != "" {
		code := reward.ErrorCode(code)
		return nil, &reward.Error{Code: code, Message: resp.Header.Get(micro.ErrorHeader), Retryable: code == reward.Busy}
	}
	if name := resp.Header.Get(headerObject); name != "" {
		body, err := c.payloads.get(ctx, name)
		if err != nil {
			return nil, reward.Errorf(reward.Internal, "fetch large response: %v", err)
		}
		c.payloads.remove(context.WithoutCancel(ctx), name)
		return body, nil
	}
	return resp.Data, nil
}

// roundTrip publishes msg and waits for its answer, taking heartbeats as signs
// that the replica is still at work.
func (c *Client) roundTrip(ctx context.Context, msg *nats.Msg) (*nats.Msg, error) {
	inbox := c.nc.NewInbox()
	ch := make(chan *nats.Msg, 16)
	sub, err := c.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	msg.Reply = inbox
	if err := c.nc.PublishMsg(msg); err != nil {
		return nil, err
	}
	silence := c.Silence
	if silence <= 0 {
		silence = 5 * time.Second
	}
	timer := time.NewTimer(silence)
	defer timer.Stop()
	for {
		select {
		case m := <-ch:
			switch {
			case m.Header.Get("Status") == "503":
				return nil, nats.ErrNoResponders
			case m.Header.Get(headerProgress) != "":
				timer.Reset(silence)
			default:
				return m, nil
			}
		case <-timer.C:
			return nil, errSilent
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Ping asks every running replica of service to answer and reports whether one
// did within the context's deadline.
func (c *Client) Ping(ctx context.Context, service string) bool {
	subject, err := micro.ControlSubject(micro.PingVerb, service, "")
	if err != nil {
		return false
	}
	_, err = c.nc.RequestWithContext(ctx, subject, nil)
	return err == nil
}
