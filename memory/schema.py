"""The store's explicit, versioned schema. Each migration is applied once, in order, in one transaction."""

from __future__ import annotations

SCHEMA_VERSION = 9

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE symbols (
        symbol TEXT PRIMARY KEY, kind TEXT NOT NULL, source TEXT NOT NULL, first_date TEXT, last_date TEXT,
        rows INTEGER NOT NULL DEFAULT 0, loaded_at TEXT NOT NULL, stale INTEGER NOT NULL DEFAULT 0, note TEXT
    );
    CREATE TABLE bars (
        symbol TEXT NOT NULL, date TEXT NOT NULL, open REAL, high REAL, low REAL, close REAL NOT NULL, volume REAL,
        PRIMARY KEY (symbol, date)
    ) WITHOUT ROWID;
    CREATE INDEX bars_date ON bars(date);
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, phase TEXT NOT NULL, as_of TEXT NOT NULL,
        started TEXT NOT NULL, ended TEXT, status TEXT NOT NULL, summary TEXT
    );
    CREATE TABLE steps (
        id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, node TEXT NOT NULL, status TEXT NOT NULL,
        started TEXT NOT NULL, ended TEXT, summary TEXT
    );
    CREATE INDEX steps_run ON steps(run_id);
    CREATE TABLE tool_calls (
        id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, tool TEXT NOT NULL, args TEXT NOT NULL, output TEXT NOT NULL,
        model_version TEXT, ms REAL
    );
    CREATE TABLE proposals (
        key TEXT PRIMARY KEY, run_id TEXT NOT NULL, as_of TEXT NOT NULL, symbol TEXT NOT NULL, agent TEXT NOT NULL,
        action TEXT NOT NULL, strength REAL NOT NULL, confidence REAL NOT NULL, payload TEXT NOT NULL
    );
    CREATE INDEX proposals_asof ON proposals(as_of);
    CREATE TABLE verdicts (
        id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, as_of TEXT NOT NULL, proposal_key TEXT NOT NULL,
        decision TEXT NOT NULL, size_multiplier REAL NOT NULL, reason TEXT NOT NULL, provider TEXT NOT NULL,
        fallback INTEGER NOT NULL DEFAULT 0, payload TEXT NOT NULL
    );
    CREATE INDEX verdicts_key ON verdicts(proposal_key);
    CREATE TABLE picks (
        id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, as_of TEXT NOT NULL, symbol TEXT NOT NULL,
        score REAL NOT NULL, threshold REAL NOT NULL, selected INTEGER NOT NULL, horizon_days INTEGER NOT NULL,
        reference_price REAL NOT NULL, payload TEXT NOT NULL
    );
    CREATE INDEX picks_asof ON picks(as_of);
    CREATE TABLE intents (
        intent_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, as_of TEXT NOT NULL, symbol TEXT NOT NULL,
        side TEXT NOT NULL, kind TEXT NOT NULL, quantity REAL NOT NULL, status TEXT NOT NULL,
        status_reason TEXT, payload TEXT NOT NULL
    );
    CREATE INDEX intents_asof ON intents(as_of);
    CREATE TABLE orders (
        client_order_id TEXT PRIMARY KEY, intent_id TEXT NOT NULL, run_id TEXT NOT NULL, symbol TEXT NOT NULL,
        side TEXT NOT NULL, quantity REAL NOT NULL, status TEXT NOT NULL, session TEXT NOT NULL,
        created TEXT NOT NULL, updated TEXT NOT NULL, detail TEXT
    );
    CREATE TABLE fills (
        fill_id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL,
        quantity REAL NOT NULL, price REAL NOT NULL, commission REAL NOT NULL, session TEXT NOT NULL,
        price_source TEXT NOT NULL
    );
    CREATE TABLE positions (
        symbol TEXT PRIMARY KEY, quantity REAL NOT NULL, avg_price REAL NOT NULL, entry_date TEXT NOT NULL,
        initial_stop REAL NOT NULL, peak REAL NOT NULL, trail_pct REAL NOT NULL, tiers_hit INTEGER NOT NULL DEFAULT 0,
        updated TEXT NOT NULL
    );
    CREATE TABLE snapshots (
        date TEXT PRIMARY KEY, cash REAL NOT NULL, equity REAL NOT NULL, positions_value REAL NOT NULL,
        gross REAL NOT NULL, payload TEXT NOT NULL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT,
        reason TEXT, payload TEXT
    );
    CREATE TABLE desk_state (
        id INTEGER PRIMARY KEY CHECK (id = 1), halted INTEGER NOT NULL, reason TEXT, since TEXT, actor TEXT
    );
    INSERT INTO desk_state (id, halted) VALUES (1, 0);
    """,
    2: """
    CREATE TABLE breakers (
        name TEXT PRIMARY KEY, tripped TEXT NOT NULL, sessions INTEGER NOT NULL, reason TEXT NOT NULL
    );
    """,
    # peak_date: the session through which a holding's peak is known; a night for an earlier date leaves it alone
    3: """
    ALTER TABLE positions ADD COLUMN peak_date TEXT;
    UPDATE positions SET peak_date = entry_date;
    """,
    # a night re-run for a date replaces that date's decisions: find them by date
    4: """
    CREATE INDEX verdicts_asof ON verdicts(as_of);
    CREATE INDEX tool_calls_run ON tool_calls(run_id);
    CREATE INDEX runs_status ON runs(status);
    """,
    # every LLM exchange: what was asked (the rendered prompt), what came back (raw and parsed), what it cost, and
    # what the bounds did to it; keyed so a replay can serve it again instead of asking (and paying) twice
    5: """
    CREATE TABLE llm_calls (
        id INTEGER PRIMARY KEY, call_key TEXT NOT NULL, role TEXT NOT NULL, provider TEXT NOT NULL,
        model TEXT NOT NULL, prompt_id TEXT NOT NULL, prompt_version TEXT NOT NULL, input_hash TEXT NOT NULL,
        run_id TEXT, as_of TEXT, created TEXT NOT NULL, status TEXT NOT NULL, error TEXT, prompt TEXT NOT NULL,
        raw TEXT, parsed TEXT, bounds TEXT, input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL NOT NULL DEFAULT 0, latency_ms REAL NOT NULL DEFAULT 0
    );
    CREATE INDEX llm_calls_key ON llm_calls(call_key);
    CREATE INDEX llm_calls_run ON llm_calls(run_id);
    CREATE INDEX llm_calls_created ON llm_calls(created);
    CREATE INDEX llm_calls_asof ON llm_calls(as_of);
    """,
    # every evaluated configuration (eval cases, sweeps, tuning trials): a later eval's deflated Sharpe counts them
    6: """
    CREATE TABLE trials (
        id INTEGER PRIMARY KEY, kind TEXT NOT NULL, config_hash TEXT NOT NULL, config TEXT NOT NULL,
        start TEXT NOT NULL, "end" TEXT NOT NULL, metrics TEXT NOT NULL, created TEXT NOT NULL
    );
    CREATE INDEX trials_kind ON trials(kind);
    CREATE INDEX trials_hash ON trials(config_hash);
    """,
    # operations: the Slack outbox (messages written before they are sent), operators' vetoes and flatten requests,
    # and morning runs paused for approval (their deadline and the decision)
    7: """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY, key TEXT UNIQUE, created TEXT NOT NULL, kind TEXT NOT NULL, op TEXT NOT NULL,
        channel TEXT NOT NULL, run_id TEXT, thread_key TEXT, target_key TEXT, broadcast INTEGER NOT NULL DEFAULT 0,
        payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt TEXT NOT NULL,
        last_error TEXT, ts TEXT, channel_id TEXT, sent_at TEXT
    );
    CREATE INDEX outbox_status ON outbox(status, id);
    CREATE TABLE vetoes (
        intent_id TEXT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL
    );
    CREATE TABLE flattens (
        id INTEGER PRIMARY KEY, symbol TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL,
        status TEXT NOT NULL, intent_id TEXT, closed TEXT, note TEXT
    );
    CREATE TABLE approvals (
        run_id TEXT PRIMARY KEY, session TEXT NOT NULL, asked TEXT NOT NULL, deadline TEXT NOT NULL,
        intents TEXT NOT NULL, decision TEXT, actor TEXT, decided TEXT, reason TEXT
    );
    """,
    # sizing and trust: each agent's part in every long pick (its track record: win rates, payoffs, IC), the
    # nightly Thompson-sampled agent weights, and the moonshot track's intents (their own P&L line)
    8: """
    CREATE TABLE agent_picks (
        id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, as_of TEXT NOT NULL, agent TEXT NOT NULL, symbol TEXT NOT NULL,
        horizon_days INTEGER NOT NULL, reference_price REAL NOT NULL, signal REAL NOT NULL, model_version TEXT NOT NULL
    );
    CREATE INDEX agent_picks_asof ON agent_picks(as_of);
    CREATE TABLE agent_weights (
        as_of TEXT NOT NULL, agent TEXT NOT NULL, alpha REAL NOT NULL, beta REAL NOT NULL, sample REAL NOT NULL,
        weight REAL NOT NULL, drift INTEGER NOT NULL, reason TEXT NOT NULL, resolved INTEGER NOT NULL,
        hit_rate REAL, ic REAL, live_rate REAL, reference_rate REAL, PRIMARY KEY (as_of, agent)
    );
    CREATE TABLE moonshots (
        intent_id TEXT PRIMARY KEY, as_of TEXT NOT NULL, symbol TEXT NOT NULL, weight REAL NOT NULL
    );
    """,
    # the scheduler's ledger: every trigger of `desk serve`'s scheduler and what it came to (a failed or skipped
    # scheduled run is counted, shown and alerted from here, whichever process asks)
    9: """
    CREATE TABLE schedule_fires (
        id INTEGER PRIMARY KEY, at TEXT NOT NULL, phase TEXT NOT NULL, session TEXT NOT NULL, night TEXT,
        outcome TEXT NOT NULL, failure TEXT, run_id TEXT, reason TEXT NOT NULL
    );
    CREATE INDEX schedule_fires_phase ON schedule_fires(phase, id);
    """,
}
