import sharp from 'sharp';

const WIDTH = 200;
const HEIGHT = 150;
const CHANNELS = 3;

/**
 * `count` small JPEGs (200x150), each of distinct bytes so each is an asset with a flow of its own, and cheap to
 * render on a small machine: a colour of its own from around the hue wheel, a gradient and noise, so every
 * rendition has detail to encode and none is a flat block.
 */
export async function distinctSmallPhotos(count: number): Promise<Buffer[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => smallPhoto(i, count)));
}

function smallPhoto(index: number, count: number): Promise<Buffer> {
  const [r, g, b] = hueToRgb((index * 360) / count);
  const pixels = Buffer.alloc(WIDTH * HEIGHT * CHANNELS);
  // A noise of its own per photo (xorshift seeded by the index), so no two share bytes even at equal hues.
  let seed = 0x9e3779b9 ^ (index + 1);
  const noise = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return ((seed >>> 0) % 41) - 20;
  };
  for (let y = 0; y < HEIGHT; y += 1) {
    for (let x = 0; x < WIDTH; x += 1) {
      const shade = (x + y) / (WIDTH + HEIGHT) - 0.5;
      const at = (y * WIDTH + x) * CHANNELS;
      pixels[at] = clamp(r + 80 * shade + noise());
      pixels[at + 1] = clamp(g + 80 * shade + noise());
      pixels[at + 2] = clamp(b - 80 * shade + noise());
    }
  }
  return sharp(pixels, { raw: { width: WIDTH, height: HEIGHT, channels: CHANNELS } }).jpeg({ quality: 85 }).toBuffer();
}

function clamp(value: number): number {
  return Math.max(0, Math.min(255, Math.round(value)));
}

/** A fully saturated colour at `hue` degrees. */
function hueToRgb(hue: number): [number, number, number] {
  const channel = (n: number) => {
    const k = (n + hue / 60) % 6;
    return 255 * (1 - Math.max(0, Math.min(k, 4 - k, 1)));
  };
  return [channel(5), channel(3), channel(1)];
}
