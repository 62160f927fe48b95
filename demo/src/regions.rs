//! Where the demo tenants' people live and where else sign-ins come from: real cities with their
//! states, country codes and coordinates, time zones, common names, and internet providers'
//! address blocks. Fixed data; changing it changes every demo data set.

/// A city as Graph's `signInLocation` names it. Coordinates are `f32`, as the service stores them,
/// so they widen to the long doubles Graph returns (`47.68050003051758`).
#[derive(Debug)]
pub(super) struct City {
    pub name: &'static str,
    pub state: &'static str,
    pub country: &'static str,
    pub lat: f32,
    pub lon: f32,
    /// The first two octets of addresses placed in this city when it is visited from abroad.
    pub ip_prefix: [u8; 2],
}

const fn city(name: &'static str, state: &'static str, country: &'static str, lat: f32, lon: f32) -> City {
    City { name, state, country, lat, lon, ip_prefix: [0, 0] }
}

const fn abroad(
    name: &'static str,
    state: &'static str,
    country: &'static str,
    lat: f32,
    lon: f32,
    ip_prefix: [u8; 2],
) -> City {
    City { name, state, country, lat, lon, ip_prefix }
}

/// Where a tenant's people live: cities (weighted), time zone, names and internet providers.
#[derive(Debug)]
pub(super) struct Region {
    /// Hours east of UTC (standard time; daylight saving is ignored).
    pub utc_offset_hours: i64,
    pub cities: &'static [(City, u32)],
    pub first_names: &'static [&'static str],
    pub last_names: &'static [&'static str],
    /// First octets of home broadband addresses, one per provider.
    pub isp_v4: [u8; 6],
    /// The first two hextets of home broadband IPv6 prefixes.
    pub isp_v6: [u16; 2],
    pub mobile_v4: [u8; 2],
    pub mobile_v6: [u16; 2],
}

pub(super) static US: Region = Region {
    utc_offset_hours: -8,
    cities: &[
        (city("Redmond", "Washington", "US", 47.680_5, -122.120_94), 30),
        (city("Seattle", "Washington", "US", 47.606_2, -122.332_1), 14),
        (city("Bellevue", "Washington", "US", 47.610_1, -122.201_5), 10),
        (city("New York", "New York", "US", 40.712_8, -74.006_0), 16),
        (city("San Francisco", "California", "US", 37.774_9, -122.419_4), 6),
        (city("Austin", "Texas", "US", 30.267_2, -97.743_1), 5),
        (city("Chicago", "Illinois", "US", 41.878_1, -87.629_8), 5),
        (city("Boston", "Massachusetts", "US", 42.360_1, -71.058_9), 4),
        (city("Denver", "Colorado", "US", 39.739_2, -104.990_3), 3),
        (city("Atlanta", "Georgia", "US", 33.749_0, -84.388_0), 3),
        (city("Portland", "Oregon", "US", 45.515_2, -122.678_4), 4),
    ],
    first_names: US_FIRST_NAMES,
    last_names: US_LAST_NAMES,
    isp_v4: [73, 98, 24, 71, 67, 76],
    isp_v6: [0x2601, 0x0600],
    mobile_v4: [174, 205],
    mobile_v6: [0x2607, 0xfb90],
};

pub(super) static CENTRAL_EUROPE: Region = Region {
    utc_offset_hours: 1,
    cities: &[
        (city("Munich", "Bavaria", "DE", 48.135_1, 11.582_0), 30),
        (city("Berlin", "Berlin", "DE", 52.520_0, 13.405_0), 18),
        (city("Hamburg", "Hamburg", "DE", 53.551_1, 9.993_7), 8),
        (city("Frankfurt am Main", "Hesse", "DE", 50.110_9, 8.682_1), 8),
        (city("Cologne", "North Rhine-Westphalia", "DE", 50.937_5, 6.960_3), 6),
        (city("Stuttgart", "Baden-Wurttemberg", "DE", 48.775_8, 9.182_9), 6),
        (city("Vienna", "Vienna", "AT", 48.208_2, 16.373_8), 5),
        (city("Zurich", "Zurich", "CH", 47.376_9, 8.541_7), 4),
    ],
    first_names: CENTRAL_EUROPE_FIRST_NAMES,
    last_names: CENTRAL_EUROPE_LAST_NAMES,
    isp_v4: [84, 87, 91, 93, 79, 217],
    isp_v6: [0x2003, 0x00e4],
    mobile_v4: [80, 187],
    mobile_v6: [0x2a01, 0x0598],
};

pub(super) static AUSTRALIA: Region = Region {
    utc_offset_hours: 10,
    cities: &[
        (city("Sydney", "New South Wales", "AU", -33.868_8, 151.209_3), 34),
        (city("Melbourne", "Victoria", "AU", -37.813_6, 144.963_1), 24),
        (city("Brisbane", "Queensland", "AU", -27.469_8, 153.025_1), 10),
        (city("Perth", "Western Australia", "AU", -31.950_5, 115.860_5), 6),
        (city("Adelaide", "South Australia", "AU", -34.928_5, 138.600_7), 5),
        (city("Canberra", "Australian Capital Territory", "AU", -35.280_9, 149.13), 4),
        (city("Auckland", "Auckland", "NZ", -36.848_5, 174.763_3), 3),
    ],
    first_names: AUSTRALIA_FIRST_NAMES,
    last_names: AUSTRALIA_LAST_NAMES,
    isp_v4: [49, 101, 110, 120, 124, 58],
    isp_v6: [0x2001, 0x8003],
    mobile_v4: [110, 145],
    mobile_v6: [0x2001, 0x8004],
};

/// Cities outside every demo tenant's home region: business travel, and where risky sign-ins and
/// password sprays come from.
pub(super) static ABROAD: [City; 12] = [
    abroad("London", "England", "GB", 51.507_4, -0.127_8, [86, 140]),
    abroad("Paris", "Ile-de-France", "FR", 48.856_6, 2.352_2, [90, 84]),
    abroad("Amsterdam", "North Holland", "NL", 52.367_6, 4.904_1, [145, 53]),
    abroad("Dublin", "Dublin", "IE", 53.349_8, -6.260_3, [89, 101]),
    abroad("Toronto", "Ontario", "CA", 43.653_2, -79.383_2, [99, 228]),
    abroad("Tokyo", "Tokyo", "JP", 35.676_2, 139.650_3, [126, 114]),
    abroad("Singapore", "Singapore", "SG", 1.352_1, 103.819_8, [116, 87]),
    abroad("Mumbai", "Maharashtra", "IN", 19.076_0, 72.877_7, [49, 36]),
    abroad("Sao Paulo", "Sao Paulo", "BR", -23.550_5, -46.633_3, [177, 69]),
    abroad("Bucharest", "Bucuresti", "RO", 44.426_8, 26.102_5, [86, 124]),
    abroad("Lagos", "Lagos", "NG", 6.524_4, 3.379_2, [105, 112]),
    abroad("Hanoi", "Hanoi", "VN", 21.027_8, 105.834_2, [113, 190]),
];

/// Which of these cities business travellers visit (the rest only see attacks and risk).
pub(super) const TRAVEL_CITIES: usize = 8;

#[rustfmt::skip]
const US_FIRST_NAMES: &[&str] = &[
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William",
    "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Christopher", "Karen", "Daniel", "Lisa",
    "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Steven", "Ashley", "Andrew", "Emily", "Joshua",
    "Michelle", "Kevin", "Amanda", "Brian", "Melissa", "Priya", "Wei", "Carlos", "Sofia", "Jamal", "Aisha",
    "Hiroshi", "Mei", "Olivia", "Ethan", "Noah", "Ava", "Mateo", "Chloe", "Raj", "Fatima", "Diego", "Grace",
    "Tyler", "Hannah", "Marcus", "Naomi",
];

#[rustfmt::skip]
const US_LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
    "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker",
    "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Patel", "Chen", "Kim", "Singh", "Okafor",
    "Tanaka", "Kowalski", "O'Brien",
];

#[rustfmt::skip]
const CENTRAL_EUROPE_FIRST_NAMES: &[&str] = &[
    "Lukas", "Anna", "Felix", "Laura", "Jonas", "Lea", "Maximilian", "Sophie", "Leon", "Marie", "Paul", "Hannah",
    "Jan", "Lena", "Tobias", "Julia", "Florian", "Katharina", "Sebastian", "Sarah", "Matthias", "Johanna", "Stefan",
    "Sabine", "Thomas", "Claudia", "Andreas", "Petra", "Michael", "Nicole", "Jürgen", "Jörg", "Björn", "Sören",
    "Mehmet", "Elif", "Luca", "Chiara", "Pieter", "Anouk", "Niklas", "Greta",
];

#[rustfmt::skip]
const CENTRAL_EUROPE_LAST_NAMES: &[&str] = &[
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
    "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun",
    "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann", "Huber", "Kaya",
    "Yilmaz", "Rossi", "de Vries", "Gruber", "Steiner", "Keller",
];

#[rustfmt::skip]
const AUSTRALIA_FIRST_NAMES: &[&str] = &[
    "Jack", "Charlotte", "Oliver", "Amelia", "William", "Olivia", "Noah", "Isla", "Thomas", "Mia", "James", "Ava",
    "Lucas", "Grace", "Henry", "Chloe", "Liam", "Zoe", "Ethan", "Ruby", "Lachlan", "Matilda", "Cooper", "Sienna",
    "Harrison", "Evie", "Riley", "Sophie", "Aarav", "Mei", "Arjun", "Hana", "Tane", "Aroha",
];

#[rustfmt::skip]
const AUSTRALIA_LAST_NAMES: &[&str] = &[
    "Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Johnson", "White", "Martin", "Anderson", "Thompson",
    "Nguyen", "Thomas", "Walker", "Harris", "Lee", "Ryan", "Robinson", "Kelly", "King", "Davis", "Wright", "Evans",
    "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke", "Patel", "Tran", "Murphy", "O'Connor", "McDonald",
    "Campbell", "Stewart", "Ngata", "Chen",
];
