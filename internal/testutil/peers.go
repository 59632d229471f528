// Package testutil holds helpers shared by getty's tests: third-party peer
// lookup, generated TLS certificates and the transport matrix.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// RequirePeer returns the path of a third-party program the test talks to.
// When it is missing the test is skipped, or fails if GETTY_REQUIRE_PEERS=1
// (as in CI, which installs every peer).
func RequirePeer(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("GETTY_REQUIRE_PEERS") == "1" {
			t.Fatalf("peer %q is required (GETTY_REQUIRE_PEERS=1) but missing: %v", name, err)
		}
		t.Skipf("peer %q not installed", name)
	}
	return p
}
