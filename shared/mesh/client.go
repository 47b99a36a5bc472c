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
}

// NewClient returns a client over nc.
func NewClient(nc *nats.Conn) *Client {
	return &Client{nc: nc, payloads: newPayloads(nc), Timeout: 5 * time.Minute}
}

// Conn is the client's NATS connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

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
		msg.Header.Set(headerObject, name)
	}
	resp, err := c.nc.RequestMsgWithContext(ctx, msg)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, reward.Errorf(reward.Unavailable, "service %s is not running", service)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return nil, reward.Errorf(reward.Timeout, "%s.%s did not answer in time", service, op)
	case errors.Is(err, context.Canceled):
		return nil, reward.Errorf(reward.Timeout, "%s.%s: request canceled", service, op)
	case err != nil:
		return nil, reward.Errorf(reward.Unavailable, "call %s.%s: %v", service, op, err)
	}
	if code := resp.Header.Get(micro.ErrorCodeHeader); code != "" {
		return nil, &reward.Error{Code: reward.ErrorCode(code), Message: resp.Header.Get(micro.ErrorHeader)}
	}
	if name := resp.Header.Get(headerObject); name != "" {
		body, err := c.payloads.get(ctx, name)
		if err != nil {
			return nil, reward.Errorf(reward.Internal, "fetch large response: %v", err)
		}
		return body, nil
	}
	return resp.Data, nil
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
