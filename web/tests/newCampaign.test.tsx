// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { apiError, stubFetch } from './fetchStub';

const push = vi.fn();
vi.mock('next/navigation', () => ({ useRouter: () => ({ push }), usePathname: () => '/new/' }));
const { default: NewCampaign, briefBody, platformsToSend, splitList } = await import('@/components/pages/NewCampaign');
const { sniffImage } = await import('@/lib/uploads');

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82]);

function fill(label: string | RegExp, value: string) {
  fireEvent.change(screen.getByLabelText(label), { target: { value } });
}

describe('the brief', () => {
  it('sends the structured facts and the brand kit, optional fields only when given', () => {
    const form = {
      brand: ' Ridgeline Roasters ', product: 'Coffee subscription', benefits: ['roasted to order', '', 'free shipping'] as [string, string, string],
      offer: '', audience: 'home baristas', objective: 'sales', currency: 'usd', total_budget: '3000', start_date: '2026-12-14',
      end_date: '2027-01-10', countries: 'us, ca', age_min: '25', age_max: '', interests: 'specialty coffee, home barista,', landing_url: 'https://r.example',
      primary: '#1d4ed8', secondary: '#f59e0b', text: '#ffffff', font: 'DejaVu Sans',
    };
    const body = briefBody(form, ['meta', 'google'], { logo: 'a1', product: 'a2' });
    expect(body).toMatchObject({
      brand: 'Ridgeline Roasters', benefits: ['roasted to order', 'free shipping'], currency: 'USD', countries: ['US', 'CA'], age_min: 25,
      interests: ['specialty coffee', 'home barista'], platforms: ['meta', 'google'],
      brand_kit: { primary: '#1D4ED8', secondary: '#F59E0B', text: '#FFFFFF', font: 'DejaVu Sans', logo_asset_id: 'a1', product_asset_id: 'a2' },
    });
    expect(body).not.toHaveProperty('offer');
    expect(body).not.toHaveProperty('age_max');
    expect(splitList('a,\n b ,,c')).toEqual(['a', 'b', 'c']);
  });

  it('never puts the sandbox beside a real platform', () => {
    expect(platformsToSend(['meta', 'tiktok'], true)).toEqual(['meta', 'tiktok']);
    expect(platformsToSend([], true)).toEqual(['sandbox']);
    expect(platformsToSend([], false)).toEqual([]);
  });

  it('knows an image by its first bytes, not its name', () => {
    expect(sniffImage(PNG)).toBe('image/png');
    expect(sniffImage(new TextEncoder().encode('hello, world!'))).toBeNull();
  });
});

describe('NewCampaign', () => {
  it('offers real platforms and a separate rehearsal, never both ticked', () => {
    render(<NewCampaign />);
    const rehearse = screen.getByRole('checkbox', { name: 'Rehearse only (sandbox)' });
    expect(rehearse).toHaveProperty('checked', true);
    expect(screen.queryByRole('checkbox', { name: 'sandbox' })).toBeNull();
    fireEvent.click(screen.getByRole('checkbox', { name: 'meta' }));
    expect(rehearse).toHaveProperty('checked', false);
    fireEvent.click(rehearse);
    expect(screen.getByRole('checkbox', { name: 'meta' })).toHaveProperty('checked', false);
    expect(screen.getByText(/Any plan can be rehearsed in the\s+sandbox from its deploy page/)).toBeTruthy();
  });

  it('shows the API error under the benefit it names', async () => {
    const calls = stubFetch([['POST', /^\/api\/campaigns\/plan$/, apiError(400, 'benefits[1]: 75 characters is outside 2..=60')]]);
    render(<NewCampaign />);
    fill('Product', 'Coffee subscription');
    fill('Benefit 1', 'roasted to order');
    fill('Benefit 2', 'x'.repeat(60));
    fireEvent.click(screen.getByRole('button', { name: 'Plan campaign' }));
    const input = screen.getByLabelText('Benefit 2');
    await waitFor(() => expect(input.getAttribute('aria-invalid')).toBe('true'));
    expect(document.getElementById('benefit-2-error')?.textContent).toBe('benefits[1]: 75 characters is outside 2..=60');
    expect(screen.getByLabelText('Benefit 1').getAttribute('aria-invalid')).toBeNull();
    expect(calls[0].body).toMatchObject({ platforms: ['sandbox'], benefits: ['roasted to order', 'x'.repeat(60)] });
  });

  it('shows a brand-kit colour error at the colour', async () => {
    stubFetch([['POST', /^\/api\/campaigns\/plan$/, apiError(400, 'brand_kit.secondary: `#12` is not a #RRGGBB colour')]]);
    render(<NewCampaign />);
    fireEvent.click(screen.getByRole('button', { name: 'Plan campaign' }));
    await waitFor(() => expect(document.getElementById('secondary-error')?.textContent).toMatch(/is not a #RRGGBB colour/));
  });

  it('uploads the logo and product photo before planning, sends their ids, and writes nothing after', async () => {
    let n = 0;
    const calls = stubFetch([
      ['POST', /^\/api\/assets\?name=/, () => ({ status: 201, json: { id: `asset-${++n}` } })],
      ['POST', /^\/api\/campaigns\/plan$/, { status: 202, json: { job_id: 'job-1' } }],
      ['GET', /^\/api\/jobs\/job-1$/, { json: { id: 'job-1', kind: 'campaign.plan', state: 'succeeded', progress: 1, message: 'done', result: { campaign_id: 'c1' }, finished_at: 'x' } }],
    ]);
    render(<NewCampaign />);
    fireEvent.change(screen.getByLabelText('Logo'), { target: { files: [new File([PNG], 'logo.png', { type: 'image/png' })] } });
    fireEvent.change(screen.getByLabelText('Product photo'), { target: { files: [new File([PNG], 'bag photo.png', { type: 'image/png' })] } });
    fireEvent.click(screen.getByRole('button', { name: 'Plan campaign' }));
    await waitFor(() => expect(push).toHaveBeenCalledWith('/campaign/?id=c1'));
    expect(calls.map((c) => `${c.method} ${c.path}`).slice(0, 3)).toEqual([
      'POST /api/assets?name=logo.png',
      'POST /api/assets?name=bag_photo.png',
      'POST /api/campaigns/plan',
    ]);
    expect((calls[2].body as { brand_kit: unknown }).brand_kit).toMatchObject({ logo_asset_id: 'asset-1', product_asset_id: 'asset-2' });
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false);
  });

  it('refuses a text file posing as a logo in the page, at the logo field', async () => {
    const calls = stubFetch([]);
    render(<NewCampaign />);
    fireEvent.change(screen.getByLabelText('Logo'), { target: { files: [new File(['hello, world!'], 'logo.png', { type: 'image/png' })] } });
    fireEvent.click(screen.getByRole('button', { name: 'Plan campaign' }));
    await waitFor(() => expect(document.getElementById('logo-error')?.textContent).toMatch(/is not a PNG, JPEG or WebP image/));
    expect(calls).toHaveLength(0);
  });

  it('says the server’s size limit in words at the photo field', async () => {
    stubFetch([['POST', /^\/api\/assets/, apiError(413, 'request body is larger than the limit of 2097152 bytes', 'payload_too_large')]]);
    render(<NewCampaign />);
    fireEvent.change(screen.getByLabelText('Product photo'), { target: { files: [new File([PNG], 'p.png', { type: 'image/png' })] } });
    fireEvent.click(screen.getByRole('button', { name: 'Plan campaign' }));
    await waitFor(() => expect(document.getElementById('product_photo-error')?.textContent).toMatch(/the server accepts at most 2 MB/));
  });
});
