// WGS-84 → GCJ-02 (the datum of AMap, Tencent and other Chinese basemaps): the published standard
// transform (Krasovsky ellipsoid), applied only when the basemap declares gcj02, and only inside
// China's bounding box, where GCJ-02 tiles are shifted. Agrees with eviltransform's test vectors.

const A = 6378245.0;
const EE = 0.00669342162296594323;

/** Outside this box GCJ-02 equals WGS-84 (the usual rectangle of the reference implementations). */
export function outOfChina(lon, lat) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function shiftLat(x, y) {
  let r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
  r += (20 * Math.sin(y * Math.PI) + 40 * Math.sin(y / 3 * Math.PI)) * 2 / 3;
  r += (160 * Math.sin(y / 12 * Math.PI) + 320 * Math.sin(y * Math.PI / 30)) * 2 / 3;
  return r;
}

function shiftLon(x, y) {
  let r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
  r += (20 * Math.sin(x * Math.PI) + 40 * Math.sin(x / 3 * Math.PI)) * 2 / 3;
  r += (150 * Math.sin(x / 12 * Math.PI) + 300 * Math.sin(x / 30 * Math.PI)) * 2 / 3;
  return r;
}

/** [lon, lat] WGS-84 → [lon, lat] GCJ-02 (unchanged outside China). */
export function wgs84ToGcj02(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat];
  const radLat = lat / 180 * Math.PI;
  const magic = 1 - EE * Math.sin(radLat) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  const dLat = shiftLat(lon - 105, lat - 35) * 180 / ((A * (1 - EE)) / (magic * sqrtMagic) * Math.PI);
  const dLon = shiftLon(lon - 105, lat - 35) * 180 / (A / sqrtMagic * Math.cos(radLat) * Math.PI);
  return [lon + dLon, lat + dLat];
}
