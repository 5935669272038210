-- Categories (Open311 "services") with their questions, local issues, "me too" supports,
-- follows, the public timeline and photos.
CREATE TABLE categories (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    group_name TEXT NOT NULL DEFAULT '',
    keywords TEXT NOT NULL DEFAULT '',
    handled_by TEXT NOT NULL CHECK (handled_by IN ('community', 'council', 'either')),
    safety_notes TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT TRUE,
    questions TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE issues (
    id TEXT PRIMARY KEY NOT NULL,
    category_code TEXT NOT NULL REFERENCES categories (code),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    address TEXT,
    answers TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    reporter_id TEXT REFERENCES accounts (id),
    anonymous BOOLEAN NOT NULL DEFAULT FALSE,
    duplicate_of TEXT REFERENCES issues (id),
    support_count INTEGER NOT NULL DEFAULT 0,
    follower_count INTEGER NOT NULL DEFAULT 0,
    photo_count INTEGER NOT NULL DEFAULT 0,
    closed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- The geo prefilter: a range on lat, then lon, inside the index.
CREATE INDEX issues_lat_lon ON issues (lat, lon);
CREATE INDEX issues_created_at ON issues (created_at, id);
CREATE INDEX issues_updated_at ON issues (updated_at, id);
CREATE INDEX issues_reporter_id ON issues (reporter_id, created_at);
CREATE INDEX issues_category_status ON issues (category_code, status);

CREATE TABLE issue_supports (
    issue_id TEXT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (issue_id, account_id)
);
CREATE INDEX issue_supports_account_id ON issue_supports (account_id);

CREATE TABLE issue_follows (
    issue_id TEXT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (issue_id, account_id)
);
CREATE INDEX issue_follows_account_id ON issue_follows (account_id);

CREATE TABLE issue_events (
    id TEXT PRIMARY KEY NOT NULL,
    issue_id TEXT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    actor_id TEXT REFERENCES accounts (id),
    actor_role TEXT,
    from_status TEXT,
    to_status TEXT,
    body TEXT,
    data TEXT,
    deleted_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX issue_events_issue_id ON issue_events (issue_id, id);

CREATE TABLE issue_photos (
    id TEXT PRIMARY KEY NOT NULL,
    issue_id TEXT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    uploader_id TEXT REFERENCES accounts (id),
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    byte_size BIGINT NOT NULL,
    thumb_width INTEGER NOT NULL,
    thumb_height INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX issue_photos_issue_id ON issue_photos (issue_id, id);

-- The starter set. Officers and admins manage them through the API afterwards.
INSERT INTO categories (code, name, description, group_name, keywords, handled_by, safety_notes, questions, created_at, updated_at) VALUES
('pothole', 'Pothole', 'A hole or broken surface in a road or cycle lane.', 'Roads', 'road,hole,surface,tarmac', 'council', 'Do not stand in the road. Report from the pavement.', '[{"code":"size","datatype":"singlevaluelist","required":true,"description":"How big is it?","order":1,"values":[{"key":"small","name":"Smaller than a dinner plate"},{"key":"medium","name":"Up to a metre across"},{"key":"large","name":"Larger than a metre"}]},{"code":"depth_cm","datatype":"number","required":false,"description":"Roughly how deep, in centimetres?","order":2,"values":[]}]', (now() AT TIME ZONE 'utc'), (now() AT TIME ZONE 'utc')),
('litter', 'Litter', 'Rubbish dropped in a street, park or verge.', 'Street cleaning', 'rubbish,trash,bins,cans', 'community', 'Wear gloves. Do not pick up needles or broken glass: report them instead.', '[]', (now() AT TIME ZONE 'utc'), (now() AT TIME ZONE 'utc')),
('fly_tipping', 'Fly-tipping', 'Waste dumped illegally: bags, furniture, building rubble.', 'Street cleaning', 'dumping,waste,mattress,rubble', 'either', 'Do not open bags or move heavy items. Asbestos and chemicals must be left to the council.', '[{"code":"items","datatype":"multivaluelist","required":true,"description":"What has been dumped?","order":1,"values":[{"key":"bags","name":"Black bags"},{"key":"furniture","name":"Furniture or mattresses"},{"key":"building","name":"Building rubble"},{"key":"hazardous","name":"Chemicals, asbestos or tyres"},{"key":"other","name":"Something else"}]}]', (now() AT TIME ZONE 'utc'), (now() AT TIME ZONE 'utc')),
('graffiti', 'Graffiti', 'Unwanted paint or tags on walls, signs or street furniture.', 'Street cleaning', 'tag,paint,vandalism', 'either', 'Only clean surfaces you have permission to clean, with the right products.', '[{"code":"offensive","datatype":"singlevaluelist","required":true,"description":"Is it offensive?","order":1,"values":[{"key":"yes","name":"Yes"},{"key":"no","name":"No"}]}]', (now() AT TIME ZONE 'utc'), (now() AT TIME ZONE 'utc')),
('street_light', 'Broken street light', 'A street light that is out, flickering or on in daytime.', 'Roads', 'lamp,light,dark,lamppost', 'council', 'Never touch exposed wires or open a lamp column.', '[{"code":"column_number","datatype":"string","required":false,"description":"The number on the lamp post, if you can see it","order":1,"values":[]}]', (now() AT TIME ZONE 'utc'), (now() AT TIME ZONE 'utc')),
('overgrown_vegetation', 'Overgrown vegetation', 'Hedges, trees or weeds blocking a path, sign or sightline.', 'Parks and green spaces', 'hedge,tree,weeds,brambles', 'community', 'Use gloves and eye protection. Watch for nesting birds (March to August).', '[]', (now() AT TIME ZONE 'utc'), (now() AT TIME ZONE 'utc')),
('blocked_drain', 'Blocked drain', 'A gully or drain that is blocked or causing flooding.', 'Roads', 'drain,gully,flood,water', 'council', 'Do not lift drain covers.', '[{"code":"flooding","datatype":"singlevaluelist","required":true,"description":"Is the road or path flooded?","order":1,"values":[{"key":"yes","name":"Yes"},{"key":"no","name":"No"}]}]', (now() AT TIME ZONE 'utc'), (now() AT TIME ZONE 'utc')),
('damaged_bench', 'Damaged bench', 'A broken or vandalised bench or picnic table.', 'Parks and green spaces', 'bench,seat,table', 'either', 'Do not sit on a damaged bench.', '[]', (now() AT TIME ZONE 'utc'), (now() AT TIME ZONE 'utc')),
('dog_fouling', 'Dog fouling', 'Dog mess on a path, park or play area.', 'Street cleaning', 'dog,poo,mess', 'either', 'Use a bag and gloves; wash your hands afterwards.', '[]', (now() AT TIME ZONE 'utc'), (now() AT TIME ZONE 'utc')),
('abandoned_vehicle', 'Abandoned vehicle', 'A vehicle that seems to have been left for a long time.', 'Roads', 'car,van,untaxed', 'council', 'Do not touch or try to move the vehicle.', '[{"code":"registration","datatype":"string","required":false,"description":"Registration number, if visible","order":1,"values":[]}]', (now() AT TIME ZONE 'utc'), (now() AT TIME ZONE 'utc')),
('play_area', 'Damaged play equipment', 'Broken swings, slides or surfaces in a playground.', 'Parks and green spaces', 'playground,swing,slide', 'council', 'Keep children away from broken equipment.', '[]', (now() AT TIME ZONE 'utc'), (now() AT TIME ZONE 'utc')),
('other', 'Something else', 'A local problem that fits no other category.', 'Other', '', 'either', '', '[]', (now() AT TIME ZONE 'utc'), (now() AT TIME ZONE 'utc'));
