package server

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// CertReloader serves a TLS certificate and key from files and reloads
// them when either file changes, without a restart: its GetCertificate
// (for tls.Config) looks at the files at most once per CheckInterval,
// during a handshake, and loads them again when their size, modification
// time or content changed. A pair that fails to load (half-written,
// mismatched) is logged and the previous certificate kept; the next
// check tries again.
type CertReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	// CheckInterval is how often the files are looked at (default 1 s).
	CheckInterval time.Duration

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // sizes and modification times of both files
	checked time.Time
}

// NewCertReloader loads certFile and keyFile (PEM) and returns the
// reloader; an error when they do not load.
func NewCertReloader(certFile, keyFile string, log *slog.Logger) (*CertReloader, error) {
	c := &CertReloader{certFile: certFile, keyFile: keyFile, log: log, CheckInterval: time.Second}
	stamp, err := c.stampOf()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load %s and %s: %w", certFile, keyFile, err)
	}
	c.cert, c.stamp, c.checked = &cert, stamp, time.Now()
	return c, nil
}

// stampOf describes both files' sizes and modification times.
func (c *CertReloader) stampOf() (string, error) {
	var b bytes.Buffer
	for _, f := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		fmt.Fprintf(&b, "%d:%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.checked) >= c.CheckInterval {
		c.checked = time.Now()
		c.reload()
	}
	return c.cert, nil
}

// reload loads the files again when their stamp changed; c.mu is held.
func (c *CertReloader) reload() {
	stamp, err := c.stampOf()
	if err != nil {
		c.log.Warn("tls certificate check failed; keeping the loaded certificate", "err", err)
		return
	}
	if stamp == c.stamp {
		return
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		c.log.Warn("tls certificate changed but does not load; keeping the previous one", "cert", c.certFile, "key", c.keyFile, "err", err)
		return
	}
	c.cert, c.stamp = &cert, stamp
	c.log.Info("tls certificate reloaded", "cert", c.certFile)
}

// TLSConfig returns a server tls.Config using c, with HTTP/2 and
// HTTP/1.1 offered (ALPN) and TLS 1.2 at least.
func (c *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: c.GetCertificate, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
}
