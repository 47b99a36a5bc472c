package pool

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// demux splits Docker's multiplexed attach stream (8-byte headers: stream id,
// three zero bytes, big-endian length) into the agent's stdout, which carries
// the protocol, and its stderr, of which the tail is kept for diagnostics.
type demux struct {
	src     io.Reader
	left    int // bytes left in the current stdout frame
	mu      sync.Mutex
	errTail []byte
}

const stderrTail = 4 << 10

func (d *demux) Read(p []byte) (int, error) {
	for d.left == 0 {
		var head [8]byte
		if _, err := io.ReadFull(d.src, head[:]); err != nil {
			return 0, err
		}
		n := int(binary.BigEndian.Uint32(head[4:]))
		switch head[0] {
		case 1:
			d.left = n
		case 2:
			buf := make([]byte, n)
			if _, err := io.ReadFull(d.src, buf); err != nil {
				return 0, err
			}
			d.mu.Lock()
			d.errTail = append(d.errTail, buf...)
			if len(d.errTail) > stderrTail {
				d.errTail = d.errTail[len(d.errTail)-stderrTail:]
			}
			d.mu.Unlock()
		default:
			return 0, fmt.Errorf("attach stream: unknown stream id %d", head[0])
		}
	}
	if len(p) > d.left {
		p = p[:d.left]
	}
	n, err := d.src.Read(p)
	d.left -= n
	return n, err
}

func (d *demux) stderr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return string(d.errTail)
}
