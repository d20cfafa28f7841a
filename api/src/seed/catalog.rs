//! The demo catalog's data: categories and products as plain constants, kept apart from the code
//! that loads them so each reads in one sitting. All prices are in cents of `super::CURRENCY`.

pub(super) struct DemoCategory {
    pub(super) name: &'static str,
    pub(super) slug: &'static str,
    pub(super) parent: Option<&'static str>,
    pub(super) description: &'static str,
}

pub(super) struct DemoProduct {
    pub(super) sku: &'static str,
    pub(super) name: &'static str,
    pub(super) category: &'static str,
    pub(super) price_cents: i64,
    pub(super) stock: i64,
    pub(super) description: &'static str,
}

/// Parents before children, so each parent exists by the time its children are created.
pub(super) const CATEGORIES: &[DemoCategory] = &[
    DemoCategory {
        name: "Electronics",
        slug: "electronics",
        parent: None,
        description: "Chargers, lamps and gadgets for work and play.",
    },
    DemoCategory {
        name: "Audio",
        slug: "audio",
        parent: Some("electronics"),
        description: "Headphones, earbuds, speakers and microphones.",
    },
    DemoCategory {
        name: "Computer Accessories",
        slug: "computer-accessories",
        parent: Some("electronics"),
        description: "Keyboards, mice, hubs, cables and storage for your desk setup.",
    },
    DemoCategory {
        name: "Home & Kitchen",
        slug: "home-kitchen",
        parent: None,
        description: "Textiles, decor and everyday comforts for the home.",
    },
    DemoCategory {
        name: "Kitchen & Dining",
        slug: "kitchen-dining",
        parent: Some("home-kitchen"),
        description: "Knives, cookware, coffee gear and tableware.",
    },
    DemoCategory {
        name: "Apparel",
        slug: "apparel",
        parent: None,
        description: "Everyday clothing and accessories in natural fibres.",
    },
    DemoCategory {
        name: "Books",
        slug: "books",
        parent: None,
        description: "Practical guides for the kitchen, the trail and the office.",
    },
    DemoCategory {
        name: "Sports & Outdoors",
        slug: "sports-outdoors",
        parent: None,
        description: "Gear for hiking, camping and training.",
    },
];

macro_rules! product {
    ($sku:literal, $name:literal, $category:literal, $price:literal, $stock:literal, $description:literal) => {
        DemoProduct {
            sku: $sku,
            name: $name,
            category: $category,
            price_cents: $price,
            stock: $stock,
            description: $description,
        }
    };
}

pub(super) const PRODUCTS: &[DemoProduct] = &[
    // Audio
    product!(
        "AUD-HP-001",
        "Aurora Wireless Over-Ear Headphones",
        "audio",
        14999,
        40,
        "Closed-back Bluetooth headphones with 40 mm drivers, 35-hour battery life and plush memory-foam ear cushions."
    ),
    product!(
        "AUD-EB-002",
        "Pulse True Wireless Earbuds",
        "audio",
        7999,
        120,
        "Compact earbuds with a pocketable charging case, IPX4 sweat resistance and three sizes of silicone tips."
    ),
    product!(
        "AUD-SPK-003",
        "Cascade Portable Bluetooth Speaker",
        "audio",
        5999,
        75,
        "Waterproof speaker with 360-degree sound, a 12-hour battery and a strap for your bike or backpack."
    ),
    product!(
        "AUD-SPK-004",
        "Bookshelf Stereo Speakers (Pair)",
        "audio",
        18900,
        18,
        "Powered two-way speakers in a walnut veneer cabinet, with optical, RCA and Bluetooth inputs."
    ),
    product!(
        "AUD-MIC-005",
        "Studio USB Condenser Microphone",
        "audio",
        8950,
        32,
        "Cardioid microphone for podcasts and calls, with a headphone jack for zero-latency monitoring."
    ),
    product!(
        "AUD-HP-006",
        "Commuter Noise-Cancelling Headphones",
        "audio",
        22900,
        25,
        "Adaptive noise cancelling, a transparency mode for announcements and a fold-flat design for travel."
    ),
    product!(
        "AUD-DAC-007",
        "Pocket USB-C Headphone Amplifier",
        "audio",
        4900,
        60,
        "A thumb-sized DAC and amplifier that brings a 3.5 mm jack back to phones and laptops."
    ),
    // Computer accessories
    product!(
        "CMP-KB-101",
        "Tenkeyless Mechanical Keyboard",
        "computer-accessories",
        8900,
        55,
        "Hot-swappable tactile switches, PBT keycaps and a detachable USB-C cable in a compact layout."
    ),
    product!(
        "CMP-MS-102",
        "Ergonomic Vertical Mouse",
        "computer-accessories",
        3999,
        90,
        "A 57-degree grip that keeps your wrist in a handshake position, with six programmable buttons."
    ),
    product!(
        "CMP-HUB-103",
        "7-in-1 USB-C Hub",
        "computer-accessories",
        4599,
        140,
        "HDMI 4K output, three USB-A ports, SD and microSD readers and 100 W pass-through charging."
    ),
    product!(
        "CMP-CBL-104",
        "Braided USB-C Cable 2 m",
        "computer-accessories",
        1299,
        400,
        "Nylon-braided cable rated for 240 W charging and 480 Mb/s data, tested to 20,000 bends."
    ),
    product!(
        "CMP-STD-105",
        "Aluminium Laptop Stand",
        "computer-accessories",
        4999,
        70,
        "Raises your screen to eye level; six height settings and folds flat into its own sleeve."
    ),
    product!(
        "CMP-CAM-106",
        "1080p Webcam with Privacy Shutter",
        "computer-accessories",
        5999,
        45,
        "Full-HD video at 30 fps, dual microphones, automatic light correction and a sliding lens cover."
    ),
    product!(
        "CMP-SSD-107",
        "1 TB Portable SSD",
        "computer-accessories",
        10999,
        35,
        "Pocket-sized solid-state drive with read speeds up to 1,050 MB/s and a drop-resistant shell."
    ),
    product!(
        "CMP-PAD-108",
        "Extended Desk Mat",
        "computer-accessories",
        2499,
        150,
        "A 90 x 40 cm felt-and-cork mat with stitched edges that fits your keyboard and mouse."
    ),
    // Electronics (general)
    product!(
        "ELC-CHG-201",
        "65 W GaN Wall Charger",
        "electronics",
        3999,
        110,
        "Two USB-C ports and one USB-A port in a charger small enough for a jacket pocket."
    ),
    product!(
        "ELC-PWR-202",
        "20,000 mAh Power Bank",
        "electronics",
        4999,
        85,
        "Charges a laptop once or a phone four times; 45 W USB-C in and out with a charge display."
    ),
    product!(
        "ELC-LMP-203",
        "Smart LED Desk Lamp",
        "electronics",
        5499,
        40,
        "Flicker-free lamp with adjustable colour temperature, a memory setting and a USB charging port."
    ),
    // Kitchen & dining
    product!(
        "KIT-KNF-301",
        "8-Inch Chef's Knife",
        "kitchen-dining",
        6900,
        50,
        "Forged high-carbon stainless steel with a full tang and a comfortable pakkawood handle."
    ),
    product!(
        "KIT-PAN-302",
        "Cast Iron Skillet 10-Inch",
        "kitchen-dining",
        3499,
        65,
        "Pre-seasoned skillet that goes from stovetop to oven to campfire and lasts for generations."
    ),
    product!(
        "KIT-KTL-303",
        "Gooseneck Electric Kettle",
        "kitchen-dining",
        7900,
        30,
        "Precise pour spout, temperature control to the degree and a one-hour keep-warm mode for pour-over coffee."
    ),
    product!(
        "KIT-FRP-304",
        "Stainless Steel French Press 1 L",
        "kitchen-dining",
        3299,
        80,
        "Double-walled press that keeps coffee hot, with a four-layer filter for a clean cup."
    ),
    product!(
        "KIT-BRD-305",
        "End-Grain Walnut Cutting Board",
        "kitchen-dining",
        8500,
        20,
        "Handmade board that is gentle on knife edges, with a juice groove and rubber feet."
    ),
    product!(
        "KIT-MUG-306",
        "Stoneware Mug Set of 4",
        "kitchen-dining",
        3600,
        60,
        "Reactive-glaze 350 ml mugs, each one slightly different; dishwasher and microwave safe."
    ),
    product!(
        "KIT-GRN-307",
        "Burr Coffee Grinder",
        "kitchen-dining",
        12900,
        22,
        "Conical steel burrs with 40 grind settings, from espresso-fine to French-press coarse."
    ),
    product!(
        "KIT-CTR-308",
        "Glass Food Storage Containers (10 Pieces)",
        "kitchen-dining",
        3999,
        95,
        "Oven-safe borosilicate containers with leak-proof locking lids in five sizes."
    ),
    // Home
    product!(
        "HOM-THR-401",
        "Chunky Knit Throw Blanket",
        "home-kitchen",
        5900,
        35,
        "Hand-knitted from soft acrylic yarn in a generous 130 x 170 cm size."
    ),
    product!(
        "HOM-CDL-402",
        "Soy Wax Candle, Cedar & Sage",
        "home-kitchen",
        2400,
        120,
        "Hand-poured in a reusable amber jar with a cotton wick; burns for about 50 hours."
    ),
    product!(
        "HOM-PLT-403",
        "Ceramic Planter with Saucer",
        "home-kitchen",
        2900,
        70,
        "A 20 cm matte planter with a drainage hole and a matching saucer for indoor plants."
    ),
    product!(
        "HOM-TWL-404",
        "Organic Cotton Bath Towel Set",
        "home-kitchen",
        4900,
        45,
        "Two bath towels, two hand towels and two washcloths in absorbent 600 g/m2 terry."
    ),
    // Apparel
    product!(
        "APP-TEE-501",
        "Organic Cotton Crew T-Shirt",
        "apparel",
        2500,
        200,
        "A midweight everyday tee in 100% organic cotton, pre-shrunk and garment-dyed."
    ),
    product!(
        "APP-HOD-502",
        "Heavyweight Pullover Hoodie",
        "apparel",
        5800,
        90,
        "Brushed-back fleece with a lined hood, ribbed cuffs and a kangaroo pocket."
    ),
    product!(
        "APP-JKT-503",
        "Packable Rain Jacket",
        "apparel",
        8900,
        40,
        "Waterproof, breathable shell that packs into its own chest pocket; taped seams throughout."
    ),
    product!(
        "APP-SCK-504",
        "Merino Wool Hiking Socks (3 Pairs)",
        "apparel",
        2900,
        150,
        "Cushioned merino blend socks that stay warm when wet and resist odour on long days."
    ),
    product!(
        "APP-CAP-505",
        "Six-Panel Canvas Cap",
        "apparel",
        2200,
        110,
        "Washed cotton canvas with a curved brim and an adjustable brass buckle."
    ),
    product!(
        "APP-CHN-506",
        "Slim Stretch Chinos",
        "apparel",
        6500,
        60,
        "Cotton twill with a touch of stretch, a tapered leg and a hidden phone pocket."
    ),
    product!(
        "APP-BLT-507",
        "Full-Grain Leather Belt",
        "apparel",
        4500,
        55,
        "Vegetable-tanned leather with a solid brass buckle that develops a patina over time."
    ),
    product!(
        "APP-SCF-508",
        "Lambswool Scarf",
        "apparel",
        3900,
        0,
        "A soft, warm scarf woven in Scotland from pure lambswool. Back in stock next season."
    ),
    // Books
    product!(
        "BOK-601",
        "Rust in Production: Building Reliable Services",
        "books",
        4999,
        30,
        "A practical guide to designing, testing and operating network services in Rust."
    ),
    product!(
        "BOK-602",
        "The Home Cook's Field Guide",
        "books",
        2999,
        45,
        "Techniques, not just recipes: 120 dishes that teach you to cook without a recipe."
    ),
    product!(
        "BOK-603",
        "Trails of the Pacific Northwest",
        "books",
        2450,
        25,
        "Seventy day hikes with maps, elevation profiles and notes on the best season for each."
    ),
    product!(
        "BOK-604",
        "Designing Data at Scale",
        "books",
        5499,
        20,
        "How databases, queues and caches fit together, and the trade-offs behind each choice."
    ),
    product!(
        "BOK-605",
        "A Year of Houseplants",
        "books",
        1999,
        50,
        "Month-by-month care for fifty common houseplants, from watering to repotting."
    ),
    product!(
        "BOK-606",
        "Small Business Bookkeeping Made Simple",
        "books",
        2799,
        15,
        "Plain-language accounting for shop owners: invoices, taxes and cash flow without jargon."
    ),
    // Sports & outdoors
    product!(
        "OUT-BTL-701",
        "Insulated Water Bottle 750 ml",
        "sports-outdoors",
        2999,
        180,
        "Vacuum-insulated steel keeps drinks cold for 24 hours or hot for 12; leak-proof lid."
    ),
    product!(
        "OUT-TNT-702",
        "Ultralight Two-Person Tent",
        "sports-outdoors",
        32900,
        12,
        "A 1.4 kg freestanding tent with two doors, two vestibules and colour-coded poles."
    ),
    product!(
        "OUT-MAT-703",
        "Non-Slip Yoga Mat 6 mm",
        "sports-outdoors",
        3900,
        75,
        "Natural rubber base with a grippy polyurethane top and alignment lines; carrying strap included."
    ),
    product!(
        "OUT-PCK-704",
        "28 L Daypack",
        "sports-outdoors",
        7900,
        38,
        "Ventilated back panel, hydration sleeve, hip belt pockets and an integrated rain cover."
    ),
    product!(
        "OUT-LMP-705",
        "Rechargeable Headlamp",
        "sports-outdoors",
        3499,
        90,
        "400-lumen headlamp with a red night-vision mode and USB-C charging; IPX6 water resistant."
    ),
    product!(
        "OUT-BND-706",
        "Resistance Band Set",
        "sports-outdoors",
        2499,
        110,
        "Five latex-free bands from 5 to 50 kg, with handles, ankle straps and a door anchor."
    ),
];
