"""A researcher's session against `povcensus serve`, through ADBC's Flight SQL driver.

Usage: python flight_client.py URI TOKEN > result.json
Prints JSON: the answers of permitted queries, which statements were refused, the tables the
catalog lists, and whether a wrong token was refused.
"""

import json
import sys
import warnings

import adbc_driver_flightsql.dbapi as flightsql

warnings.simplefilter("ignore")


def connect(uri, token):
    return flightsql.connect(
        uri, db_kwargs={"adbc.flight.sql.authorization_header": f"Bearer {token}"}
    )


def main(uri, token):
    out = {"answers": {}, "refused": {}, "accepted": []}
    conn = connect(uri, token)
    cur = conn.cursor()
    for q in [
        "SELECT COUNT(*) AS n FROM research_persons",
        "SELECT COUNT(*) AS n FROM research_households",
        "SELECT sex, COUNT(*) AS n FROM research_persons WHERE sex IS NOT NULL GROUP BY sex ORDER BY sex",
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    ]:
        cur.execute(q)
        out["answers"][q] = [list(r) for r in cur.fetchall()]
    for q in [
        "SELECT * FROM persons",
        "SELECT * FROM rejects",
        "SELECT * FROM research_persons",
        "CREATE TABLE copy AS SELECT * FROM research_persons",
        "CREATE EXTERNAL TABLE leak STORED AS CSV LOCATION '/etc/passwd'",
        "INSERT INTO research_persons SELECT * FROM research_persons",
        "DELETE FROM research_persons",
        "DROP TABLE research_persons",
        "COPY research_persons TO '/tmp/povcensus-leak.csv'",
        "SELECT * FROM '/etc/passwd'",
        "SET datafusion.execution.batch_size = 1",
    ]:
        try:
            cur.execute(q)
            cur.fetchall()
            out["accepted"].append(q)
        except Exception as e:  # the driver raises its own error classes
            out["refused"][q] = str(e)[:200]
    objects = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
    out["tables"] = sorted(
        t["table_name"]
        for c in objects
        for s in c["catalog_db_schemas"]
        for t in s["db_schema_tables"]
    )
    conn.close()
    try:
        bad = connect(uri, "not-a-valid-token-at-all")
        c = bad.cursor()
        c.execute("SELECT COUNT(*) FROM research_persons")
        c.fetchall()
        out["wrong_token"] = "accepted"
    except Exception as e:
        out["wrong_token"] = "refused: " + str(e)[:120]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
