// Package proxyproto reads (and writes) the PROXY protocol header, versions
// 1 and 2, that load balancers such as HAProxy, nginx and cloud load
// balancers put in front of a TCP connection to tell the server who the
// client is.
//
// A server behind such a proxy wraps each accepted connection with Server;
// transport/tcp does it for a getty server when tcp.Config.ProxyProtocol is
// set:
//
//	l, err := tcp.Listen(":7000", &tcp.Config{ProxyProtocol: &proxyproto.Config{}})
//
// The header is read before the session opens (getty runs it as the
// connection's handshake, bounded by HeaderTimeout and the session's
// HandshakeTimeout), so Session.RemoteAddr is the client's address from
// OnOpen on. A connection that does not start with a valid header fails
// with ErrNoHeader or ErrMalformed and is closed; one that sends nothing
// fails with ErrHeaderTimeout. A listener without the option never looks
// for a header: the bytes are data.
//
// The specification is https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt.
// Version 2 TLVs are kept (Header.TLVs); a LOCAL header (a health check
// from the proxy itself) keeps the connection's own addresses.
//
// Only trust headers from your proxies: anyone who can connect to the port
// directly can claim any address. Restrict the port, or list the proxies'
// networks in Config.Trusted.
package proxyproto
