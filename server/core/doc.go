// Package core is the small shared core under regkit's protocol packages
// (server/accounts today; the OCI and generic handlers still live in
// package server): the request's authentication outcome in its context,
// the request's external base URL, and JSON response writing. It holds no
// protocol's rules and imports no protocol package.
package core
