//! The demo tenants' people and what they sign in with: names, roles, devices, browsers, where
//! they live and which addresses they come from. Everything here depends only on the tenant, never
//! on the generator's seed, so a person keeps their laptop and home address across data sets.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::DemoTenant;
use super::DemoUser;
use super::catalog::{PROFILES, TenantProfile};
use super::regions::Region;
use super::rng::{Rng, hash_str, mix, pick, stable_guid, weighted};

/// The private profile of `tenant` (the first demo tenant's for a tenant that is not one of them).
pub(super) fn profile_of(tenant: &DemoTenant) -> &'static TenantProfile {
    PROFILES.iter().find(|p| p.tenant_id == tenant.id).unwrap_or(&PROFILES[0])
}

/// The tenant's users, the same on every call.
pub(super) fn users(tenant: &DemoTenant) -> Vec<DemoUser> {
    let profile = profile_of(tenant);
    let region = profile.region;
    let tenant_hash = hash_str(tenant.id);
    let mut names: Vec<(String, String)> = Vec::with_capacity(profile.user_count);
    let mut taken = HashSet::new();
    let mut push = |display: String, local: String, names: &mut Vec<(String, String)>| {
        if !local.is_empty() && taken.insert(local.clone()) {
            names.push((display, local));
        }
    };
    for person in profile.known_people.iter().take(profile.user_count) {
        push((*person).to_owned(), mail_local_part(person), &mut names);
    }
    let mut attempt = 0_u64;
    while names.len() < profile.user_count && attempt < 100_000 {
        let h = mix(&[tenant_hash, attempt, 0x4E41_4D45]);
        attempt += 1;
        let (Some(first), Some(last)) = (nth_of(region.first_names, h), nth_of(region.last_names, h >> 32)) else {
            break;
        };
        let display = format!("{first} {last}");
        let local = mail_local_part(&display);
        push(display, local, &mut names);
    }
    names
        .into_iter()
        .enumerate()
        .map(|(i, (display_name, local))| DemoUser {
            object_id: stable_guid(&[tenant_hash, i as u64, 0x0B1E_C71D]),
            user_principal_name: format!("{local}@{}", tenant.domain),
            display_name,
            admin_role: profile.roles.get(i).copied(),
        })
        .collect()
}

/// The item of `items` that `hash` falls on; `None` when there is none.
fn nth_of(items: &[&'static str], hash: u64) -> Option<&'static str> {
    let i = hash.checked_rem(items.len() as u64)?;
    items.get(usize::try_from(i).ok()?).copied()
}

/// `first.last` in lower-case ASCII, the way directories usually spell mail nicknames.
fn mail_local_part(display_name: &str) -> String {
    let mut out = String::with_capacity(display_name.len() + 2);
    for (i, word) in display_name.split_whitespace().enumerate() {
        // "de Vries" is one surname: only the first space separates first and last name.
        if i == 1 {
            out.push('.');
        }
        for c in word.chars() {
            match c {
                'ä' | 'Ä' => out.push_str("ae"),
                'ö' | 'Ö' => out.push_str("oe"),
                'ü' | 'Ü' => out.push_str("ue"),
                'ß' => out.push_str("ss"),
                c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_lowercase()),
                _ => {}
            }
        }
    }
    out
}

/// A device as `deviceDetail` describes it, with the strings its sign-ins carry.
#[derive(Debug, Clone)]
pub(super) struct Device {
    pub os: &'static str,
    /// `""` when the device is not registered in the directory.
    pub device_id: String,
    pub display_name: Option<String>,
    pub is_compliant: Option<bool>,
    pub is_managed: Option<bool>,
    pub trust_type: Option<&'static str>,
    /// `deviceDetail.browser` and `userAgent` of browser sign-ins.
    pub browser: String,
    pub user_agent: String,
    /// The same for native (desktop or mobile) app sign-ins.
    pub app_browser: String,
    pub app_user_agent: String,
    /// `deviceDetail` of browser and of app sign-ins, built once (see [`Device::with_details`]).
    pub web_detail: Value,
    pub app_detail: Value,
}

impl Device {
    pub(super) fn is_phone(&self) -> bool {
        matches!(self.os, "Ios" | "Android")
    }

    /// The device with its two `deviceDetail` objects filled in, in Graph's member order.
    fn with_details(mut self) -> Self {
        let detail = |browser: &str| {
            let mut d = Map::with_capacity(7);
            d.insert("deviceId".into(), self.device_id.clone().into());
            d.insert("displayName".into(), self.display_name.clone().map_or(Value::Null, Value::from));
            d.insert("operatingSystem".into(), self.os.into());
            d.insert("browser".into(), browser.into());
            d.insert("isCompliant".into(), self.is_compliant.map_or(Value::Null, Value::from));
            d.insert("isManaged".into(), self.is_managed.map_or(Value::Null, Value::from));
            d.insert("trustType".into(), self.trust_type.map_or(Value::Null, Value::from));
            Value::Object(d)
        };
        self.web_detail = detail(&self.browser);
        self.app_detail = detail(&self.app_browser);
        self
    }
}

/// A user with the habits the generator gives them.
#[derive(Debug, Clone)]
pub(super) struct Person {
    pub user: DemoUser,
    /// Relative number of sign-ins (a few heavy users, a few nearly idle ones).
    pub activity: f64,
    pub office: usize,
    /// Works from home, never behind the office's egress address.
    pub remote: bool,
    /// Index into the region's cities.
    pub home_city: usize,
    pub home_v4: [u8; 4],
    /// The home connection's IPv6 /64, when the provider gives one.
    pub home_v6: Option<[u16; 4]>,
    pub computer: Device,
    pub phone: Device,
    /// Share of modern sign-ins made from the phone.
    pub mobile_share: f64,
    /// An old mail client or device that still uses a legacy protocol.
    pub legacy_client: Option<&'static str>,
}

/// The `(Chrome, Edge)` builds of the Chromium majors the generator uses, 120 at index 0 to 131.
const CHROMIUM_BUILDS: [(u16, u16); 12] = [
    (6099, 2210),
    (6167, 2277),
    (6261, 2365),
    (6312, 2420),
    (6367, 2478),
    (6422, 2535),
    (6478, 2592),
    (6533, 2651),
    (6613, 2739),
    (6668, 2792),
    (6723, 2849),
    (6778, 2903),
];
const ANDROID_MODELS: [&str; 5] = ["SM-S911B", "SM-A546B", "Pixel 8", "Pixel 7a", "SM-G991B"];

pub(super) fn people(tenant: &DemoTenant) -> Vec<Person> {
    let profile = profile_of(tenant);
    let tenant_hash = hash_str(tenant.id);
    users(tenant)
        .into_iter()
        .enumerate()
        .map(|(i, user)| {
            let mut rng = Rng::new(mix(&[tenant_hash, i as u64, 0xD5]));
            person(profile, user, i, &mut rng)
        })
        .collect()
}

fn person(profile: &TenantProfile, user: DemoUser, index: usize, rng: &mut Rng) -> Person {
    let region = profile.region;
    let mut activity = 0.4 + rng.unit() * 1.2;
    if rng.chance(0.07) {
        activity *= f64::from(rng.between(4, 8));
    } else if rng.chance(0.06) {
        activity *= 0.08;
    }
    if user.admin_role.is_some() {
        activity *= 1.3;
    }
    let office = usize::from(rng.chance(0.3) && profile.offices.len() > 1);
    let remote = rng.chance(0.25);
    let office_city = profile.offices.get(office).map_or(0, |o| o.city);
    let home_city = if !remote && rng.chance(0.75) { office_city } else { weighted_city(region, rng) };
    let home_v4 =
        [*pick!(rng, &region.isp_v4), rng.between(1, 254) as u8, rng.below(256) as u8, rng.between(1, 254) as u8];
    let home_v6 = rng.chance(0.45).then(|| {
        [region.isp_v6[0], region.isp_v6[1] | rng.below(256) as u16, rng.below(65_536) as u16, rng.below(65_536) as u16]
    });
    let first_name = user.display_name.split(' ').next().unwrap_or("User").to_owned();
    let computer = computer(profile, index, &first_name, rng);
    let phone = phone(profile, rng);
    let mobile_share = 0.08 + rng.unit() * 0.27;
    let legacy_client = rng.chance(0.09).then(|| weighted!(rng, &super::catalog::LEGACY_CLIENTS));
    Person { user, activity, office, remote, home_city, home_v4, home_v6, computer, phone, mobile_share, legacy_client }
}

pub(super) fn weighted_city(region: &Region, rng: &mut Rng) -> usize {
    let total: u64 = region.cities.iter().map(|(_, w)| u64::from(*w)).sum();
    let mut roll = rng.below(total);
    for (i, (_, w)) in region.cities.iter().enumerate() {
        if roll < u64::from(*w) {
            return i;
        }
        roll -= u64::from(*w);
    }
    0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Browser {
    Edge,
    Chrome,
    Firefox,
    Safari,
}

fn computer(profile: &TenantProfile, index: usize, first_name: &str, rng: &mut Rng) -> Device {
    let os = weighted!(rng, &[("Windows 11", 40), ("Windows 10", 32), ("MacOs", 19), ("Linux", 4)]);
    let browser = match os {
        "MacOs" => {
            weighted!(rng, &[(Browser::Safari, 45), (Browser::Chrome, 40), (Browser::Edge, 10), (Browser::Firefox, 5)])
        }
        "Linux" => weighted!(rng, &[(Browser::Firefox, 55), (Browser::Chrome, 45)]),
        _ => weighted!(rng, &[(Browser::Edge, 55), (Browser::Chrome, 38), (Browser::Firefox, 7)]),
    };
    let [first, rest @ ..] = &CHROMIUM_BUILDS;
    let (chromium, &(chrome_build, edge_build)) = rng.pick_indexed(first, rest);
    let major = 120 + chromium;
    let patch = rng.between(40, 190);
    let (platform, firefox_platform) = match os {
        "MacOs" => ("Macintosh; Intel Mac OS X 10_15_7", "Macintosh; Intel Mac OS X 10.15"),
        "Linux" => ("X11; Linux x86_64", "X11; Ubuntu; Linux x86_64"),
        _ => ("Windows NT 10.0; Win64; x64", "Windows NT 10.0; Win64; x64"),
    };
    let (browser_name, user_agent) = match browser {
        Browser::Edge => (
            format!("Edge {major}.0.{edge_build}"),
            format!(
                "Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36 \
                 Edg/{major}.0.{edge_build}.{patch}"
            ),
        ),
        Browser::Chrome => (
            format!("Chrome {major}.0.{chrome_build}"),
            format!(
                "Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36"
            ),
        ),
        Browser::Firefox => {
            let v = major + 1;
            (
                format!("Firefox {v}.0"),
                format!("Mozilla/5.0 ({firefox_platform}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"),
            )
        }
        Browser::Safari => {
            let (maj, min) = *pick!(rng, &[(17, 2), (17, 4), (17, 5), (17, 6), (18, 0), (18, 1)]);
            (
                format!("Safari {maj}.{min}"),
                format!(
                    "Mozilla/5.0 ({platform}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{maj}.{min} Safari/605.1.15"
                ),
            )
        }
    };
    let (app_browser, app_user_agent) = match os {
        // Desktop apps on Linux (the Azure CLI) sign in through the system browser.
        "Linux" => (browser_name.clone(), user_agent.clone()),
        "MacOs" => (
            rich_client(rng),
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)".to_owned(),
        ),
        _ => (rich_client(rng), "Windows-AzureAD-Authentication-Provider/1.0".to_owned()),
    };
    let graph_os = if os == "Windows 11" { "Windows10" } else { os };
    let mut device = Device {
        os: graph_os,
        device_id: String::new(),
        display_name: None,
        is_compliant: None,
        is_managed: None,
        trust_type: None,
        browser: browser_name,
        user_agent,
        app_browser,
        app_user_agent,
        web_detail: Value::Null,
        app_detail: Value::Null,
    };
    let roll = rng.unit();
    let windows = os.starts_with("Windows");
    let (joined, registered) = if profile.intune { (0.80, 0.90) } else { (0.45, 0.55) };
    if windows && roll < joined {
        let name = format!("{}{:04}", profile.device_prefix, 1000 + index * 37 % 9000);
        let compliant = profile.intune && rng.chance(0.92);
        register(&mut device, rng, name, "Azure AD joined", profile.intune, compliant);
    } else if windows && roll < registered {
        let name = desktop_name(rng);
        register(&mut device, rng, name, "Azure AD registered", false, false);
    } else if os == "MacOs" && profile.intune && roll < 0.70 {
        let name = format!("{first_name}s-MacBook-Pro");
        let compliant = rng.chance(0.9);
        register(&mut device, rng, name, "Azure AD registered", true, compliant);
    }
    device.with_details()
}

fn phone(profile: &TenantProfile, rng: &mut Rng) -> Device {
    let (os, display, browser, user_agent, app_user_agent) = if rng.chance(0.55) {
        let (maj, min) = *pick!(rng, &[(16, 7), (17, 3), (17, 4), (17, 5), (17, 6), (18, 0), (18, 1)]);
        let webkit = "AppleWebKit/605.1.15 (KHTML, like Gecko)";
        (
            "Ios",
            "iPhone".to_owned(),
            format!("Mobile Safari {maj}.{min}"),
            format!(
                "Mozilla/5.0 (iPhone; CPU iPhone OS {maj}_{min} like Mac OS X) {webkit} Version/{maj}.{min} \
                 Mobile/15E148 Safari/604.1"
            ),
            format!("Mozilla/5.0 (iPhone; CPU iPhone OS {maj}_{min} like Mac OS X) {webkit} Mobile/15E148"),
        )
    } else {
        let android = rng.between(12, 14);
        let [first, rest @ ..] = &CHROMIUM_BUILDS;
        let (chromium, &(build, _)) = rng.pick_indexed(first, rest);
        let major = 120 + chromium;
        let model = *pick!(rng, &ANDROID_MODELS);
        (
            "Android",
            model.to_owned(),
            format!("Chrome Mobile {major}.0.{build}"),
            format!(
                "Mozilla/5.0 (Linux; Android {android}; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 \
                 Mobile Safari/537.36"
            ),
            format!(
                "Mozilla/5.0 (Linux; Android {android}; {model}; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 \
                 Chrome/{major}.0.{build}.{} Mobile Safari/537.36 PKeyAuth/1.0",
                rng.between(40, 190)
            ),
        )
    };
    let mut device = Device {
        os,
        device_id: String::new(),
        display_name: None,
        is_compliant: None,
        is_managed: None,
        trust_type: None,
        app_browser: browser.clone(),
        browser,
        user_agent,
        app_user_agent,
        web_detail: Value::Null,
        app_detail: Value::Null,
    };
    let registered = if profile.intune { 0.6 } else { 0.25 };
    if rng.chance(registered) {
        let managed = profile.intune && rng.chance(0.7);
        let compliant = managed && rng.chance(0.9);
        register(&mut device, rng, display, "Azure AD registered", managed, compliant);
    }
    device.with_details()
}

fn register(device: &mut Device, rng: &mut Rng, name: String, trust: &'static str, managed: bool, compliant: bool) {
    device.device_id = rng.guid();
    device.display_name = Some(name);
    device.trust_type = Some(trust);
    device.is_managed = Some(managed);
    device.is_compliant = Some(compliant);
}

fn rich_client(rng: &mut Rng) -> String {
    format!("Rich Client 4.{}.{}.0", rng.between(55, 66), rng.between(0, 3))
}

/// A Windows out-of-box host name, `DESKTOP-` and seven characters.
fn desktop_name(rng: &mut Rng) -> String {
    const CHARS: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut name = String::from("DESKTOP-");
    for _ in 0..7 {
        name.push(char::from(*pick!(rng, CHARS)));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_nicknames_are_ascii() {
        assert_eq!(mail_local_part("Jürgen Müller"), "juergen.mueller");
        assert_eq!(mail_local_part("Liam O'Connor"), "liam.oconnor");
        assert_eq!(mail_local_part("Anouk de Vries"), "anouk.devries");
        assert_eq!(mail_local_part("Björn Schäfer"), "bjoern.schaefer");
    }
}
