-- PostgreSQL only (ADR 27): there, events get their ids after commit. SQLite has one writer, whose commits are in id
-- order already; its events keep the id they take at insert. Numbered in both folders so the versions stay in step.
SELECT 1;
