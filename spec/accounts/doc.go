// Package accounts is the route table of regkit's account and token API
// under /api/v1 (auth mode "tokens"): users, organizations and members,
// personal and deploy tokens, after Gitea's API where Gitea has the
// endpoint. Every row has a stable ID ("acc-*"); server/accounts registers
// its handlers from this table and a test fails when a row has none.
//
// Like the rest of spec/, it imports only the standard library.
package accounts
