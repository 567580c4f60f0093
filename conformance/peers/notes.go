package main

// giteaNotes126 explain the failures of the Gitea-compatible set on Gitea
// 1.26.0 in the summary.
var giteaNotes126 = []string{}

// giteaNotes127 explain them on Gitea 1.27.3.
var giteaNotes127 = []string{}
