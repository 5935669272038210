//! The words synthetic data is made of: first names, street names, and per-category
//! title and description templates (`{street}` and `{number}` are filled in).

/// First names for display names ("Amira K.").
pub const FIRST_NAMES: &[&str] = &[
    "Aaliyah", "Aaron", "Abdul", "Ada", "Aisha", "Alex", "Amira", "Ana", "Arjun", "Beatrice",
    "Ben", "Bilal", "Caitlin", "Carlos", "Chen", "Chloe", "Daniel", "Deepa", "Dylan", "Elena",
    "Ellie", "Emeka", "Fatima", "Finn", "Freya", "George", "Grace", "Hannah", "Harry", "Ibrahim",
    "Isla", "Jack", "Jamal", "Jess", "Joseph", "Kai", "Kemi", "Laura", "Leo", "Liam", "Lucy",
    "Maya", "Mei", "Mohammed", "Nadia", "Noah", "Olivia", "Omar", "Priya", "Rosa", "Ruth", "Sam",
    "Sofia", "Tariq", "Tom", "Uma", "Wei", "Yusuf", "Zainab", "Zoe",
];

/// The first part of a street name.
pub const STREET_STEMS: &[&str] = &[
    "Oak",
    "Elm",
    "Ash",
    "Beech",
    "Willow",
    "Church",
    "Station",
    "Mill",
    "High",
    "Park",
    "Victoria",
    "Albert",
    "Queen's",
    "King's",
    "Chapel",
    "Green",
    "Manor",
    "Meadow",
    "School",
    "North",
    "South",
    "Market",
    "Bridge",
    "Castle",
    "Orchard",
    "Brook",
    "Cedar",
    "Hawthorn",
    "Rectory",
    "Windmill",
    "Tanner's",
    "Cromwell",
    "Nelson",
    "Wellington",
    "Stanley",
    "Clarence",
    "Grove",
    "Canal",
    "Forge",
    "Abbey",
];

/// The second part of a street name.
pub const STREET_KINDS: &[&str] = &[
    "Road", "Street", "Lane", "Avenue", "Close", "Way", "Crescent", "Gardens", "Terrace", "Place",
    "Row", "Hill",
];

/// Sentences that may follow any description.
pub const ASIDES: &[&str] = &[
    "",
    "",
    "It has been like this for about a week.",
    "Noticed it on my way to work this morning.",
    "Several neighbours have mentioned it too.",
    "It is getting worse every day.",
    "Happy to help sort it out if others can join.",
    "Could someone take a look, please?",
    "It is right by the bus stop.",
    "Children walk past here on the way to school.",
];

/// Title and description templates of a category, in pairs that go together.
pub type Templates = &'static [(&'static str, &'static str)];

/// Templates for categories the starter set does not know.
pub const GENERIC: Templates = &[
    (
        "Problem on {street}",
        "Something here needs attention, near number {number}.",
    ),
    (
        "Needs attention: {street}",
        "There is a problem on this stretch of the street.",
    ),
];

/// The templates of a starter category, if it is one.
pub fn templates(category_code: &str) -> Option<Templates> {
    Some(match category_code {
        "pothole" => &[
            (
                "Pothole on {street}",
                "A pothole has opened up in the middle of the lane. Cars swerve to avoid it.",
            ),
            (
                "Deep pothole outside {number} {street}",
                "A deep hole by the drain cover. A car lost a hubcap here yesterday.",
            ),
            (
                "Broken road surface on {street}",
                "The surface is breaking up near the kerb; cyclists have to pull out.",
            ),
            (
                "Potholes at the end of {street}",
                "Several holes in the tarmac, filling with water when it rains.",
            ),
        ],
        "litter" => &[
            (
                "Litter along {street}",
                "Bottles, cans and takeaway boxes all along the verge.",
            ),
            (
                "Rubbish piling up on {street}",
                "Lots of litter after the weekend. A litter pick would sort it.",
            ),
            (
                "Overflowing bin on {street}",
                "The bin is overflowing and the wind is spreading rubbish down the street.",
            ),
            (
                "Cans and wrappers by {number} {street}",
                "Crisp packets, cans and plastic bags caught in the hedge.",
            ),
        ],
        "fly_tipping" => &[
            (
                "Fly-tipping on {street}",
                "Someone has dumped black bags and an old sofa on the pavement.",
            ),
            (
                "Mattress dumped on {street}",
                "A mattress and some broken furniture left by the alley.",
            ),
            (
                "Bags of rubbish dumped by {number} {street}",
                "A pile of bags has appeared; foxes are tearing them open.",
            ),
            (
                "Building rubble left on {street}",
                "Rubble and plasterboard dumped overnight, blocking half the path.",
            ),
        ],
        "graffiti" => &[
            (
                "Graffiti on {street}",
                "Spray-painted tags across the wall and the shop shutters.",
            ),
            (
                "Tags on the wall at {number} {street}",
                "Large tags on the garden wall, facing the street.",
            ),
            (
                "Graffiti on the bus shelter, {street}",
                "New graffiti on the bus shelter and the street sign.",
            ),
        ],
        "street_light" => &[
            (
                "Street light out on {street}",
                "The lamp has been out for several nights; the street is very dark.",
            ),
            (
                "Flickering lamp outside {number} {street}",
                "The light flickers on and off all night.",
            ),
            (
                "Street light on all day on {street}",
                "This lamp stays on during the day.",
            ),
        ],
        "overgrown_vegetation" => &[
            (
                "Overgrown hedge on {street}",
                "The hedge has grown across half the pavement; buggies cannot get past.",
            ),
            (
                "Brambles blocking the path on {street}",
                "Brambles are blocking the footpath.",
            ),
            (
                "Tree branches over the pavement, {street}",
                "Low branches hide the road sign at the junction.",
            ),
        ],
        "blocked_drain" => &[
            (
                "Blocked drain on {street}",
                "The drain is blocked with leaves and the road floods when it rains.",
            ),
            (
                "Flooding by the drain at {number} {street}",
                "Water pools across the pavement after every shower.",
            ),
            (
                "Gully full of leaves on {street}",
                "The gully is full of leaves and silt and does not drain.",
            ),
        ],
        "damaged_bench" => &[
            (
                "Broken bench on {street}",
                "Two slats are missing from the bench.",
            ),
            (
                "Damaged bench near {number} {street}",
                "The bench has been kicked over and one leg is broken.",
            ),
        ],
        "dog_fouling" => &[
            (
                "Dog fouling on {street}",
                "Dog mess all along the pavement, near the school gate.",
            ),
            (
                "Dog mess along {street}",
                "The path by the green is covered in dog mess.",
            ),
        ],
        "abandoned_vehicle" => &[
            (
                "Abandoned car on {street}",
                "A car with flat tyres has not moved for over a month.",
            ),
            (
                "Van left for weeks outside {number} {street}",
                "An untaxed van has been parked here for weeks, windows broken.",
            ),
        ],
        "play_area" => &[
            (
                "Broken swing in the play area off {street}",
                "One of the swing chains has snapped.",
            ),
            (
                "Damaged slide near {street}",
                "The slide has a cracked panel with sharp edges.",
            ),
        ],
        "other" => &[
            (
                "Loose paving on {street}",
                "A loose paving slab and a wobbly bollard by the crossing.",
            ),
            (
                "Sign knocked down on {street}",
                "The street sign at the corner has been knocked down.",
            ),
        ],
        _ => return None,
    })
}

/// How often a starter category is reported, relative to the others.
pub fn weight(category_code: &str) -> u32 {
    match category_code {
        "pothole" => 18,
        "litter" => 16,
        "fly_tipping" => 14,
        "street_light" => 10,
        "graffiti" => 9,
        "dog_fouling" => 8,
        "overgrown_vegetation" => 7,
        "blocked_drain" => 6,
        "abandoned_vehicle" => 4,
        "damaged_bench" | "other" => 3,
        "play_area" => 2,
        _ => 3,
    }
}
