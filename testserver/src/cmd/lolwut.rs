//! MODULE (a server without module support: LIST is empty, loading fails as Redis fails to load
//! a library) and LOLWUT (Redis 7.0's: the version line, or the art of versions 5 and 6).

use bytes::Bytes;

use super::server::{help, subcommand};
use super::{parse_i64, CmdResult, Ctx, Handler};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[("module", module), ("lolwut", lolwut)];

const MODULE_HELP: &[&str] = &[
    "LIST",
    "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
];

fn module(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let sub = subcommand(argv)?;
    if sub == "module|help" {
        help(ctx, "MODULE", MODULE_HELP);
        return Ok(());
    }
    if sub == "module|list" {
        ctx.out.array(0);
        return Ok(());
    }
    // LOAD, LOADEX, UNLOAD: refused unless enable-module-command allows them (Redis checks
    // this before anything else), then they fail as Redis fails for a library it cannot load.
    let allowed = match ctx
        .node
        .config
        .extra_or("enable-module-command", "no")
        .as_str()
    {
        "yes" => true,
        "local" => ctx.client.addr.ip().is_loopback(),
        _ => false,
    };
    if !allowed {
        return Err("ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.".into());
    }
    match sub {
        "module|unload" => Err("ERR Error unloading module: no such module with that name".into()),
        _ => {
            ctx.node.log(
                crate::logging::Level::Warning,
                &format!(
                    "Module {} failed to load: this server (rediscover) does not load modules",
                    String::from_utf8_lossy(&argv[2])
                ),
            );
            Err("ERR Error loading the extension. Please check the server logs.".into())
        }
    }
}

/// `LOLWUT [VERSION v] [args]`: versions 5 and 6 draw, any other prints the version line.
fn lolwut(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut args = &argv[1..];
    let mut version = crate::REDIS_VERSION.to_string();
    if args.len() >= 2 && super::eq_ic(&args[0], "version") {
        let v = parse_i64(&args[1])?;
        version = format!("{}.0.0", v as u32);
        args = &args[2..];
    }
    let v = version.as_bytes();
    let text = if (v[0] == b'5' && v[1] == b'.' && v.get(2) != Some(&b'9'))
        || (v[0] == b'4' && v[1] == b'.' && v.get(2) == Some(&b'9'))
    {
        let cols = arg_or(args, 0, 66)?.clamp(1, 1000);
        let per_row = arg_or(args, 1, 8)?.clamp(1, 200);
        let per_col = arg_or(args, 2, 12)?.clamp(1, 200);
        let canvas = schotter(cols as i32, per_row as i32, per_col as i32);
        format!(
            "{}\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. {}\n",
            canvas.braille(),
            crate::REDIS_VERSION
        )
    } else if (v[0] == b'6' && v[1] == b'.' && v.get(2) != Some(&b'9'))
        || (v[0] == b'5' && v[1] == b'.' && v.get(2) == Some(&b'9'))
    {
        let cols = arg_or(args, 0, 80)?.clamp(1, 1000);
        let rows = arg_or(args, 1, 20)?.clamp(1, 1000);
        let mut canvas = Canvas::new(cols as i32, rows as i32, 3);
        skyline(&mut canvas);
        format!(
            "{}\nDedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori. Redis ver. {}\n",
            canvas.grays(),
            crate::REDIS_VERSION
        )
    } else {
        format!("Redis ver. {}\n", crate::REDIS_VERSION)
    };
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn arg_or(args: &[Bytes], i: usize, default: i64) -> Result<i64, super::Error> {
    match args.get(i) {
        Some(a) => parse_i64(a),
        None => Ok(default),
    }
}

/// C's `rand()`: a number in `0..=RAND_MAX`.
fn rand() -> i32 {
    (crate::keyspace::random_u64() & 0x7fff_ffff) as i32
}

const RAND_MAX: f32 = 2_147_483_647.0;

/// Redis's LOLWUT canvas: one byte per pixel, writes outside it ignored.
struct Canvas {
    width: i32,
    height: i32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i32, height: i32, color: u8) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![color; (width * height) as usize],
        }
    }

    fn set(&mut self, x: i32, y: i32, color: u8) {
        if x >= 0 && x < self.width && y >= 0 && y < self.height {
            self.pixels[(x + y * self.width) as usize] = color;
        }
    }

    fn get(&self, x: i32, y: i32) -> u8 {
        if x >= 0 && x < self.width && y >= 0 && y < self.height {
            self.pixels[(x + y * self.width) as usize]
        } else {
            0
        }
    }

    /// Bresenham, as `lwDrawLine`.
    fn line(&mut self, mut x1: i32, mut y1: i32, x2: i32, y2: i32, color: u8) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let (sx, sy) = (if x1 < x2 { 1 } else { -1 }, if y1 < y2 { 1 } else { -1 });
        let mut err = dx - dy;
        loop {
            self.set(x1, y1, color);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// A square centred on x,y, rotated by `angle`, as `lwDrawSquare` (in C floats).
    fn square(&mut self, x: i32, y: i32, size: f32, angle: f32, color: u8) {
        // C promotes to double in each expression and stores back in float: so do we.
        use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};
        // Redis's own truncated √2: the exact constant would move some corners by a pixel.
        #[allow(clippy::approx_constant)]
        let size = (f64::from(size) / 1.4142135623) as f32;
        let size = f64::from(size).round() as f32;
        let mut k = (FRAC_PI_4 + f64::from(angle)) as f32;
        let (mut px, mut py) = ([0i32; 4], [0i32; 4]);
        for j in 0..4 {
            px[j] = (f64::from(k).sin() * f64::from(size) + f64::from(x)).round() as i32;
            py[j] = (f64::from(k).cos() * f64::from(size) + f64::from(y)).round() as i32;
            k = (f64::from(k) + FRAC_PI_2) as f32;
        }
        for j in 0..4 {
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color);
        }
    }

    /// Version 5's rendering: 2x4 pixels per braille character.
    fn braille(&self) -> String {
        let mut text = String::new();
        let mut y = 0;
        while y < self.height {
            let mut x = 0;
            while x < self.width {
                let mut byte = 0u32;
                let bits = [
                    (0, 0, 0),
                    (0, 1, 1),
                    (0, 2, 2),
                    (1, 0, 3),
                    (1, 1, 4),
                    (1, 2, 5),
                    (0, 3, 6),
                    (1, 3, 7),
                ];
                for (dx, dy, bit) in bits {
                    if self.get(x + dx, y + dy) != 0 {
                        byte |= 1 << bit;
                    }
                }
                text.push(char::from_u32(0x2800 + byte).unwrap_or(' '));
                x += 2;
            }
            if y != self.height - 1 {
                text.push('\n');
            }
            y += 4;
        }
        text
    }

    /// Version 6's rendering: a colored space per pixel, four gray levels.
    fn grays(&self) -> String {
        let mut text = String::new();
        for y in 0..self.height {
            for x in 0..self.width {
                let escape = match self.get(x, y) {
                    1 => "0;90;100m",
                    2 => "0;37;47m",
                    3 => "0;97;107m",
                    _ => "0;30;40m",
                };
                text.push_str(&format!("\x1b[{escape} \x1b[0m"));
            }
            if y != self.height - 1 {
                text.push('\n');
            }
        }
        text
    }
}

/// Georg Nees's Schotter, as Redis 5's LOLWUT draws it.
fn schotter(console_cols: i32, per_row: i32, per_col: i32) -> Canvas {
    let width = console_cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32) as i32 + padding * 2;
    let mut canvas = Canvas::new(width, height, 0);
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0) as i32 + padding;
            let mut sy = (y as f32 * side + side / 2.0) as i32 + padding;
            let mut angle = 0.0;
            if y > 1 {
                let scale = |r: i32| r as f32 / RAND_MAX / per_col as f32 * y as f32;
                let (mut r1, mut r2, mut r3) = (scale(rand()), scale(rand()), scale(rand()));
                if rand() % 2 == 1 {
                    r1 = -r1;
                }
                if rand() % 2 == 1 {
                    r2 = -r2;
                }
                if rand() % 2 == 1 {
                    r3 = -r3;
                }
                angle = r1;
                sx = (sx as f32 + r2 * side / 3.0) as i32;
                sy = (sy as f32 + r3 * side / 3.0) as i32;
            }
            canvas.square(sx, sy, side, angle, 1);
        }
    }
    canvas
}

/// One skyscraper of Redis 6's skyline.
struct Skyscraper {
    xoff: i32,
    width: i32,
    height: i32,
    windows: bool,
    color: u8,
}

fn skyscraper(canvas: &mut Canvas, s: &Skyscraper) {
    let start_y = canvas.height - 1;
    let end_y = start_y - s.height + 1;
    let mut y = start_y;
    while y >= end_y {
        for x in s.xoff..s.xoff + s.width {
            // The roof is four pixels narrower.
            if y == end_y && (x <= s.xoff + 1 || x >= s.xoff + s.width - 2) {
                continue;
            }
            let mut color = s.color;
            if s.windows
                && x > s.xoff + 1
                && x < s.xoff + s.width - 2
                && y > end_y + 1
                && y < start_y - 1
            {
                let relx = x - (s.xoff + 1);
                let rely = y - (end_y + 1);
                if (relx / 2) % 2 != 0 && rely % 2 != 0 {
                    loop {
                        color = 1 + (rand() % 2) as u8;
                        if color != s.color {
                            break;
                        }
                    }
                    if relx % 2 != 0 {
                        color = canvas.get(x - 1, y);
                    }
                }
            }
            canvas.set(x, y, color);
        }
        y -= 1;
    }
}

/// The parallax skyline of Redis 6's LOLWUT.
fn skyline(canvas: &mut Canvas) {
    let h = canvas.height;
    for color in [2u8, 1] {
        let mut offset = -10;
        while offset < canvas.width {
            offset += rand() % 8;
            let width = 10 + rand() % 9;
            let height = if color == 2 {
                h / 2 + rand() % h / 2
            } else {
                h / 2 + rand() % h / 3
            };
            let s = Skyscraper {
                xoff: offset,
                width,
                height,
                windows: false,
                color,
            };
            skyscraper(canvas, &s);
            offset += if color == 2 { width / 2 } else { width + 1 };
        }
    }
    let mut offset = -10;
    while offset < canvas.width {
        offset += rand() % 8;
        let mut width = 5 + rand() % 14;
        if width % 4 != 0 {
            width += width % 3;
        }
        let height = h / 3 + rand() % h / 2;
        let s = Skyscraper {
            xoff: offset,
            width,
            height,
            windows: true,
            color: 0,
        };
        skyscraper(canvas, &s);
        offset += width + 5;
    }
}
