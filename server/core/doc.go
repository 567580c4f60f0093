// Package core is the small shared core under regkit's protocol packages
// (server/accounts, and the OCI and generic handlers): the request's
// authentication outcome and bookkeeping (RequestInfo, SetRoute) in its
// context, the request's external base URL, JSON response writing, and the
// request-body errors every protocol answers in its own format (BodyError,
// Exactly, BadBodyError). It holds no protocol's rules and imports no
// protocol package, only spec/.
package core
