package oci_test

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/regkit/regkit/spec/oci"
)

func ExampleParse() {
	u, _ := url.Parse("http://registry.example/v2/library/ubuntu/manifests/24.04")
	r, err := oci.Parse("GET", u)
	fmt.Println(r.Route, r.Name, r.Reference, err)

	u, _ = url.Parse("/v2/Library/ubuntu/tags/list")
	_, err = oci.Parse("GET", u)
	var e *oci.Error
	if errors.As(err, &e) {
		fmt.Println(e.HTTPStatus(), e.Code)
	}
	// Output:
	// end-3 library/ubuntu 24.04 <nil>
	// 400 NAME_INVALID
}

func ExampleRequest_URL() {
	r := oci.Request{
		Route:  oci.RouteBlobMount,
		Method: "POST",
		Name:   "team/app",
		Digest: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		From:   "team/base",
	}
	fmt.Println(r.URL("https://registry.example/"))
	// Output:
	// https://registry.example/v2/team/app/blobs/uploads/?mount=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855&from=team/base
}

func ExampleParseRange() {
	r, err := oci.ParseRange("bytes=-10", 100)
	fmt.Println(r.Start, r.Length, r.ContentRange(100), err)
	_, err = oci.ParseRange("bytes=100-", 100)
	fmt.Println(errors.Is(err, oci.ErrRangeUnsatisfiable), oci.UnsatisfiedContentRange(100))
	// Output:
	// 90 10 bytes 90-99/100 <nil>
	// true bytes */100
}

func ExampleDecodeErrors() {
	body := []byte(`{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
	err := oci.DecodeErrors(404, body)
	fmt.Println(errors.Is(err, oci.ErrBlobUnknown), err)
	// Output:
	// true BLOB_UNKNOWN: blob unknown to registry
}
