// A statement runner on Node's mysql2, driven by tests/test_clients.py: one JSON request a line on stdin
// ({"sql": ..., "params": [...], "mode": "query" | "execute"}), one JSON answer a line on stdout
// ({"results": [[row, ...], ...]} with one entry per result set, or {"error": {"code": n, "message": s}}).
// "query" sends text (multi-statements allowed), "execute" a server-side prepared statement with parameters.
"use strict";
const mysql = require("mysql2/promise");
const readline = require("readline");

function resultSets(rows) {
  // mysql2 answers a multi-statement query with an array per statement; an OK packet is a ResultSetHeader.
  const sets = Array.isArray(rows) && rows.length && (Array.isArray(rows[0]) || rows[0].constructor.name === "ResultSetHeader")
    ? rows : [rows];
  return sets.map((set) => (Array.isArray(set) ? set.map((row) => Object.values(row)) : { affectedRows: set.affectedRows }));
}

async function main() {
  const [port, database] = process.argv.slice(2);
  const conn = await mysql.createConnection({
    host: "127.0.0.1", port: Number(port), user: "root", password: "", database: database || undefined,
    multipleStatements: true, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true,
  });
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const request = JSON.parse(line);
    let answer;
    try {
      const [rows] = request.mode === "execute"
        ? await conn.execute(request.sql, request.params || [])
        : await conn.query(request.sql);
      answer = { results: resultSets(rows) };
    } catch (e) {
      answer = { error: { code: e.errno, message: e.message } };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
  await conn.end();
}

main().catch((e) => { process.stderr.write(String(e && e.stack) + "\n"); process.exit(1); });
