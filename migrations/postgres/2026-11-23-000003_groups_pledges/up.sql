-- Community groups and their members, issue adoption, calls for volunteers
-- (opportunities) and pledges.
CREATE TABLE groups (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    -- The lower-cased name: group names are unique whatever their case.
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    radius_m DOUBLE PRECISION NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    join_policy TEXT NOT NULL CHECK (join_policy IN ('open', 'approval', 'invite')),
    verified BOOLEAN NOT NULL DEFAULT FALSE,
    member_count INTEGER NOT NULL DEFAULT 0,
    created_by TEXT REFERENCES accounts (id),
    archived_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX groups_lat_lon ON groups (lat, lon);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'organiser', 'member')),
    status TEXT NOT NULL CHECK (status IN ('active', 'pending', 'invited', 'removed', 'banned')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX group_members_account_id ON group_members (account_id, status);

ALTER TABLE issues ADD COLUMN adopted_by_group_id TEXT REFERENCES groups (id);

CREATE TABLE opportunities (
    id TEXT PRIMARY KEY NOT NULL,
    group_id TEXT REFERENCES groups (id),
    issue_id TEXT REFERENCES issues (id),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    address TEXT,
    online BOOLEAN NOT NULL DEFAULT FALSE,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    capacity INTEGER,
    confirmed_count INTEGER NOT NULL DEFAULT 0,
    waitlist_count INTEGER NOT NULL DEFAULT 0,
    skills TEXT NOT NULL DEFAULT '',
    safety_notes TEXT NOT NULL DEFAULT '',
    safety_ack_required BOOLEAN NOT NULL DEFAULT FALSE,
    min_age INTEGER,
    auto_confirm BOOLEAN NOT NULL DEFAULT TRUE,
    status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'cancelled', 'completed')),
    created_by TEXT REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX opportunities_starts_at ON opportunities (status, starts_at, id);
CREATE INDEX opportunities_lat_lon ON opportunities (lat, lon);
CREATE INDEX opportunities_group_id ON opportunities (group_id);
CREATE INDEX opportunities_issue_id ON opportunities (issue_id);

CREATE TABLE pledges (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT REFERENCES accounts (id),
    opportunity_id TEXT REFERENCES opportunities (id),
    issue_id TEXT REFERENCES issues (id),
    kind TEXT NOT NULL CHECK (kind IN ('time', 'skill', 'materials', 'money')),
    hours DOUBLE PRECISION,
    skill TEXT,
    materials TEXT,
    quantity INTEGER,
    amount_minor BIGINT,
    currency TEXT,
    note TEXT,
    min_pledgers INTEGER,
    condition_deadline TIMESTAMP,
    status TEXT NOT NULL CHECK (status IN ('conditional', 'pledged', 'waitlisted', 'confirmed', 'withdrawn', 'fulfilled', 'no_show', 'lapsed')),
    claimed_hours DOUBLE PRECISION,
    claimed_at TIMESTAMP,
    verified_hours DOUBLE PRECISION,
    verified_at TIMESTAMP,
    verified_by TEXT REFERENCES accounts (id),
    rejection_reason TEXT,
    safety_acknowledged BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((opportunity_id IS NULL) <> (issue_id IS NULL))
);
-- One live pledge per citizen per opportunity.
CREATE UNIQUE INDEX pledges_one_live_per_opportunity ON pledges (opportunity_id, account_id)
    WHERE status NOT IN ('withdrawn', 'lapsed', 'no_show');
CREATE INDEX pledges_account_id ON pledges (account_id, id);
CREATE INDEX pledges_opportunity_status ON pledges (opportunity_id, status, id);
CREATE INDEX pledges_issue_id ON pledges (issue_id, status);
