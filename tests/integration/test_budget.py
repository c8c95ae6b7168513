"""The target's series budget (limits.target_max_series): a page never
holds more of a target's series than it allows; the smallest databases'
series go first, whole databases at a time; what went is counted and
logged once."""

import pgfix

QUERIES = pgfix.REPO / "queries"


def config(pg, budget, files=("database.yaml",)):
    return "\n".join([
        "targets:", "  - name: main", f"    url: {pg.dsn()}",
        "queries: [" + ", ".join(str(QUERIES / f) for f in files) + "]",
        "limits:", f"  target_max_series: {budget}", ""])


def own(page):
    """The target's series: not pgpulse's own nor the process's."""
    return [s for s in page.all_samples()
            if not s.name.startswith(("pgpulse_", "process_")) and
            s.labels.get("target") == "main"]


def by_datname(samples):
    out = {}
    for s in samples:
        if "datname" in s.labels:
            out[s.labels["datname"]] = out.get(s.labels["datname"], 0) + 1
    return out


def test_the_budget_keeps_the_largest_databases_whole(pg, pgpulse, promtool_check):
    with pg.databases("qb_large", "qb_mid", "qb_small"):
        pg.psql("CREATE TABLE t AS SELECT g, repeat('x', 500) AS p "
                "FROM generate_series(1, 20000) g", dbname="qb_large")
        pg.psql("CREATE TABLE t AS SELECT g, repeat('x', 500) AS p "
                "FROM generate_series(1, 8000) g", dbname="qb_mid")
        free = pgpulse(config=config(pg, 0)).scrape()
        promtool_check(free)
        everything = own(free)
        per_db = by_datname(everything)
        fixed = len(everything) - sum(per_db.values())
        sizes = {db: pg.scalar("SELECT pg_database_size(%s)::float8", (db,)) for db in per_db}
        ranked = sorted(per_db, key=lambda d: (-sizes[d], d))
        assert ranked[:2] == ["qb_large", "qb_mid"], ranked
        assert free.sample("pgpulse_target_series_cut", target="main") == 0
        # room for the two largest databases, and one series short of the third
        budget = fixed + per_db[ranked[0]] + per_db[ranked[1]] + per_db[ranked[2]] - 1
        p = pgpulse(config=config(pg, budget))
        page = p.scrape()
        promtool_check(page)
        kept = own(page)
        assert len(kept) <= budget
        assert set(by_datname(kept)) == set(ranked[:2])
        assert by_datname(kept) == {d: per_db[d] for d in ranked[:2]}
        assert len(kept) == fixed + per_db[ranked[0]] + per_db[ranked[1]]
        assert page.sample("pg_up", target="main") == 1
        assert page.sample("pgpulse_target_series_budget", target="main") == budget
        assert page.sample("pgpulse_target_series_cut", target="main") == \
            len(everything) - len(kept)
        assert page.sample("pgpulse_target_databases_cut", target="main") == len(per_db) - 2
        # the values kept are the server's
        assert page.sample("pg_database_size_bytes", target="main", datname="qb_large") == \
            pg.scalar("SELECT pg_database_size('qb_large')::float8")
        p.scrape()
        logged = [line for line in p.log_text().splitlines()
                  if "more series than its budget" in line]
        assert len(logged) == 1, logged  # once, not on every scrape
        assert f"target_max_series={budget}" in logged[0]


def test_a_budget_below_the_cluster_series_drops_the_largest_families(pg, pgpulse,
                                                                      promtool_check):
    files = ("server.yaml", "database.yaml", "connections.yaml")
    free = own(pgpulse(config=config(pg, 0, files)).scrape())
    fams = {}
    for s in free:
        if "datname" not in s.labels:
            fams[s.name] = fams.get(s.name, 0) + 1
    budget = 5
    page = pgpulse(config=config(pg, budget, files)).scrape()
    promtool_check(page)
    kept = own(page)
    assert len(kept) <= budget
    assert not by_datname(kept)  # every database's series went first
    assert page.sample("pg_up", target="main") == 1  # one series: the last to go
    # what stayed are the smallest families, whole
    got = {}
    for s in kept:
        got[s.name] = got.get(s.name, 0) + 1
    assert all(fams[name] == n for name, n in got.items())
    gone = [name for name in fams if name not in got]
    assert max(fams[n] for n in got) <= min(fams[n] for n in gone)
