//go:build !linux

package loadgen

// epollDriver exists only on Linux; elsewhere every connection has its own
// goroutine.
type epollDriver struct{}

func newEpollDriver(*run, []link) (*epollDriver, error) { return nil, nil }

func (*epollDriver) loop()  {}
func (*epollDriver) close() {}
