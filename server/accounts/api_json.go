package accounts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/regkit/regkit/server/core"
)

// maxJSONDepth bounds the nesting of an account API request body.
const maxJSONDepth = 32

// readJSON decodes a bounded JSON body into v; an empty body leaves v. A
// body with a key twice in one object is refused: encoding/json would
// take the last one (and match keys case-insensitively), so a proxy or
// log that reads the first would see another request than the server.
func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody+1))
	if err != nil {
		return apiErrorf(http.StatusBadRequest, "reading the request body failed")
	}
	if len(b) > maxAPIBody {
		return apiErrorf(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", maxAPIBody)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return apiErrorf(http.StatusBadRequest, "invalid JSON body: %v", jsonProblem(err))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if key, err := duplicateKey(dec, 0); err != nil {
		return apiErrorf(http.StatusBadRequest, "invalid JSON body: %v", err)
	} else if key != "" {
		return apiErrorf(http.StatusBadRequest, "invalid JSON body: key %q appears more than once in an object (keys match case-insensitively)", core.ClipText(key, 64))
	}
	return nil
}

// duplicateKey reads one JSON value from dec and returns the first key
// that appears twice in one of its objects, compared as encoding/json
// matches struct fields (case-insensitively); "" when none.
func duplicateKey(dec *json.Decoder, depth int) (string, error) {
	if depth > maxJSONDepth {
		return "", fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return "", errors.New("cannot decode")
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", errors.New("cannot decode")
			}
			key, _ := kt.(string)
			f := foldKey(key)
			if seen[f] {
				return key, nil
			}
			seen[f] = true
			if k, err := duplicateKey(dec, depth+1); err != nil || k != "" {
				return k, err
			}
		}
	case json.Delim('['):
		for dec.More() {
			if k, err := duplicateKey(dec, depth+1); err != nil || k != "" {
				return k, err
			}
		}
	default:
		return "", nil
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return "", errors.New("cannot decode")
	}
	return "", nil
}

// foldKey maps s to one representative of its case-folding class (each
// rune to the smallest rune of its unicode.SimpleFold orbit), so that two
// keys fold alike exactly when strings.EqualFold holds.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

// jsonProblem describes a JSON error without quoting the body (which may
// hold a password).
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type)
	}
	return "cannot decode"
}
