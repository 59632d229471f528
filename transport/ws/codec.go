package ws

import "github.com/gettynet/getty"

// Message is a WebSocket message as a package: its kind (text or binary)
// and its bytes. Use it with Codec so that handlers see which kind arrived
// and choose which kind they send.
type Message struct {
	Kind getty.MessageKind
	Data []byte
}

// Text returns a text message holding s.
func Text(s string) Message { return Message{Kind: getty.Text, Data: []byte(s)} }

// Binary returns a binary message holding b (not copied).
func Binary(b []byte) Message { return Message{Kind: getty.Binary, Data: b} }

// IsText reports whether m is a text message.
func (m Message) IsText() bool { return m.Kind == getty.Text }

// Codec passes whole WebSocket messages through as Message packages. It is
// a getty.MessageCodec: on a WebSocket session each message becomes one
// package and each package one message of its Kind. Decoded packages alias
// the connection's read buffer until the handler returns; Detach copies
// one (the engine does when a TaskPool runs the handler).
//
// Any other getty.Codec works over WebSocket too: each message is then
// decoded with it (a message must hold whole packages) and packages are
// sent as binary messages.
type Codec struct{}

// DecodeMessage returns m as a Message.
func (Codec) DecodeMessage(m getty.Message) (Message, error) {
	return Message{Kind: m.Kind, Data: m.Data}, nil
}

// EncodeMessage appends pkg's bytes to dst and reports its kind.
func (Codec) EncodeMessage(dst []byte, pkg Message) ([]byte, getty.MessageKind, error) {
	return append(dst, pkg.Data...), pkg.Kind, nil
}

// Decode takes all of data as one binary message (on a stream transport,
// where Codec makes little sense: whatever one read returned).
func (Codec) Decode(data []byte, max int) (Message, int, error) {
	if len(data) == 0 {
		return Message{}, 0, nil
	}
	return Message{Kind: getty.Binary, Data: data}, len(data), nil
}

// Encode appends pkg's bytes to dst.
func (Codec) Encode(dst []byte, pkg Message) ([]byte, error) {
	return append(dst, pkg.Data...), nil
}

// Detach returns a copy of pkg that owns its bytes.
func (Codec) Detach(pkg Message) Message {
	pkg.Data = append([]byte(nil), pkg.Data...)
	return pkg
}

var (
	_ getty.Codec[Message]        = Codec{}
	_ getty.MessageCodec[Message] = Codec{}
	_ getty.Detacher[Message]     = Codec{}
)
