#!/usr/bin/python3
"""A tiny notes store, to be run in a jail.

    app.py add TEXT...   store a note
    app.py list          print every note as JSON
    app.py info          print what the program sees of its jail, as JSON

The notes are kept in SQLite at $NOTES_DB (default /data/notes.db): the only writable place it
needs. Uses the standard library only (json, sqlite3, os, sys).
"""
import json
import os
import sqlite3
import sys

DB = os.environ.get("NOTES_DB", "/data/notes.db")


def connect():
    db = sqlite3.connect(DB)
    db.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL,"
               " created TEXT NOT NULL DEFAULT (datetime('now')))")
    return db


def add(words):
    with connect() as db:
        cursor = db.execute("INSERT INTO notes (text) VALUES (?)", (" ".join(words),))
    print(json.dumps({"added": cursor.lastrowid}))


def list_notes():
    with connect() as db:
        rows = db.execute("SELECT id, text, created FROM notes ORDER BY id").fetchall()
    print(json.dumps([{"id": i, "text": t, "created": c} for i, t, c in rows], indent=2))


def info():
    print(json.dumps({
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "uid": os.getuid(),
        "gid": os.getgid(),
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "environment": sorted(os.environ),
        "root holds": sorted(os.listdir("/")),
        "root writable": os.access("/usr", os.W_OK),
        "database": DB,
        "database directory writable": os.access(os.path.dirname(DB), os.W_OK),
    }, indent=2))


def main(argv):
    if len(argv) >= 2 and argv[0] == "add":
        add(argv[1:])
    elif argv == ["list"]:
        list_notes()
    elif argv == ["info"]:
        info()
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
