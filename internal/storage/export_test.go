package storage

// ScramVerifierWith is scramVerifierWith, for the test that compares it with PostgreSQL's.
var ScramVerifierWith = scramVerifierWith
