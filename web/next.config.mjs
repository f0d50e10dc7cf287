/** The dashboard is a static export: `next build` writes web/out/, which the adforge binary
 * serves at `/`. No server features (no rewrites, no image optimisation, no dynamic routes). */
const nextConfig = {
  output: 'export',
  trailingSlash: true,
  images: { unoptimized: true },
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
