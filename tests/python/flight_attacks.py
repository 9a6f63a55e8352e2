"""A hostile researcher against `povcensus serve`, through ADBC's Flight SQL driver.

Usage: python flight_attacks.py URI TOKEN OTHER_TOKEN SERVER_PID STATEMENTS.json > result.json
STATEMENTS.json maps names to statements. Each is run, then `SELECT 1` to see that the server
still answers. Prints JSON: per name {"rows": n} or {"error": text} and whether the server
answered after it; the server's CPU seconds in the 2 s after a timed-out query; and which of
two statements of one researcher at once, and one of another researcher, were refused.
"""

import json
import sys
import threading
import time
import warnings

import adbc_driver_flightsql.dbapi as flightsql

warnings.simplefilter("ignore")


def connect(uri, token):
    return flightsql.connect(
        uri, db_kwargs={"adbc.flight.sql.authorization_header": f"Bearer {token}"}
    )


def run(conn, sql):
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return {"rows": len(cur.fetchall())}
    except Exception as e:  # the driver raises its own error classes
        return {"error": str(e)[:600]}
    finally:
        cur.close()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


SLOW = (
    "SELECT COUNT(DISTINCT value % 1000003) AS n FROM generate_series(1, 100000000000)"
)


def main(uri, token, other, pid, statements):
    out = {"statements": {}}
    conn = connect(uri, token)
    for name, sql in statements.items():
        r = run(conn, sql)
        r["alive"] = run(conn, "SELECT 1 AS one").get("rows") == 1
        out["statements"][name] = r

    # A query that runs out of time: the server's CPU must stop with it.
    start = time.monotonic()
    out["timeout"] = run(conn, SLOW)
    out["timeout"]["seconds"] = time.monotonic() - start
    time.sleep(0.5)
    before = cpu_seconds(pid)
    time.sleep(2.0)
    out["cpu_after_timeout"] = cpu_seconds(pid) - before

    # Two statements of one researcher at once (one may run), and one of another researcher.
    results = {}
    slow = threading.Thread(target=lambda: results.update(first=run(conn, SLOW)))
    slow.start()
    time.sleep(0.5)
    second = connect(uri, token)
    results["second"] = run(second, "SELECT 2 AS two")
    third = connect(uri, other)
    results["other"] = run(third, "SELECT 3 AS three")
    slow.join()
    out["concurrent"] = results
    out["alive"] = run(conn, "SELECT COUNT(*) AS n FROM research_persons")
    for c in (conn, second, third):
        c.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    with open(sys.argv[5]) as f:
        main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), json.load(f))
