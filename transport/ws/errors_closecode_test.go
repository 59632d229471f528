package ws_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/ws"
)

func TestCloseErrorCarriesItsCode(t *testing.T) {
	err := fmt.Errorf("session ended: %w", &ws.CloseError{Code: 1009, Reason: "too big"})
	var cc getty.CloseCoder
	if !errors.As(err, &cc) || cc.CloseCode() != 1009 {
		t.Fatalf("close code not found in %v", err)
	}
}
