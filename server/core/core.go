package core

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/regkit/regkit/server/auth"
)

// AuthResult is the outcome of authenticating a request, as the
// authentication middleware of package server records it.
type AuthResult struct {
	// Principal is who the request is from (anonymous when Err is set or
	// no credentials were sent).
	Principal auth.Principal
	// Err wraps auth.ErrUnauthenticated or auth.ErrMalformedCredentials
	// when the request carried credentials that did not authenticate.
	Err error
}

// authKey is the context key of the AuthResult.
type authKey struct{}

// WithAuth returns ctx carrying res.
func WithAuth(ctx context.Context, res AuthResult) context.Context {
	return context.WithValue(ctx, authKey{}, res)
}

// AuthOf returns the AuthResult ctx carries (the zero value, an anonymous
// principal without error, when there is none).
func AuthOf(ctx context.Context) AuthResult {
	res, _ := ctx.Value(authKey{}).(AuthResult)
	return res
}

// BaseURL returns the scheme and host under which the client reached r,
// honouring X-Forwarded-Proto and X-Forwarded-Host from a proxy in front.
func BaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" && !strings.ContainsAny(h, "\"\\, /") {
		host = h
	}
	return scheme + "://" + host
}

// WriteJSON writes v as the response body with an exact Content-Length
// (no body for HEAD).
func WriteJSON(w http.ResponseWriter, r *http.Request, status int, contentType string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return nil
}
