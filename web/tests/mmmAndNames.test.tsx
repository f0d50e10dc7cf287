// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import Mmm from '@/components/pages/Mmm';
import MmmResults, { MMM_WORDS, fitWords, splitWords, type MmmFit } from '@/components/mmm/MmmResults';
import ReportPanel from '@/components/analytics/ReportPanel';
import { csvProblem } from '@/lib/csv';
import { creativeLabel, creativeLabels, nameInWords, slug } from '@/lib/creatives';
import { formatBytes } from '@/lib/forms';
import type { Creative, Report } from '@/lib/types';
import { creativeFolders, entryPath, zipName } from '@/lib/zip';
import { apiError, stubFetch } from './fetchStub';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const GOOD = ['date,revenue,tv,search', '2026-01-05,100,10,5', '2026-01-12,120,12,6'].join('\n');

describe('MMM data checks in the page', () => {
  it('says why a file cannot be fitted', () => {
    const check = (text: string, bytes = text.length) => csvProblem(text, bytes, 256 * 1024, formatBytes);
    expect(check(GOOD)).toBeNull();
    expect(check('')).toBe('data: the file is empty');
    expect(check('lorem ipsum dolor sit amet')).toMatch(/^data: only one column found/);
    expect(check('date,revenue')).toMatch(/header line but no data rows/);
    expect(check('day,revenue,tv\nmonday,1,2')).toMatch(/no column holds dates in YYYY-MM-DD/);
    expect(check('date,name,city\n2026-01-05,a,b')).toMatch(/no column holds only numbers/);
    expect(check('date,revenue,city\n2026-01-05,3,b')).toMatch(/only one numeric column \(revenue\)/);
    expect(check(GOOD, 300 * 1024)).toBe('data: the file is 300 KB; at most 256 KB fits in one fit (the server\'s limit on a job)');
  });

  it('shows the reason beside a disabled Fit instead of disabling it silently', async () => {
    render(<Mmm />);
    expect(screen.getByTestId('fit-blocker').textContent).toBe('Choose a CSV file first.');
    expect(screen.getByText(/Up to 256 KB/)).toBeTruthy();
    fireEvent.change(screen.getByTestId('mmm-csv'), { target: { files: [new File(['\u0001junk;;bytes'], 'junk.csv', { type: 'text/csv' })] } });
    await waitFor(() => expect(screen.getByTestId('mmm-data-error').textContent).toMatch(/^data: only one column found/));
    expect(screen.getByRole('button', { name: 'Fit model' })).toHaveProperty('disabled', true);
    expect(screen.getByTestId('fit-blocker').textContent).toBe('Fix the file first (see above).');
  });

  it('shows the server’s reason at the data field, and a 413 in words', async () => {
    let answer = apiError(400, 'data row 2, column tv: spend must not be negative');
    stubFetch([
      ['GET', /^\/api\/jobs\?/, { json: { jobs: [], next_cursor: null } }],
      ['POST', /^\/api\/analytics\/mmm$/, () => answer],
    ]);
    render(<Mmm />);
    fireEvent.change(screen.getByTestId('mmm-csv'), { target: { files: [new File([GOOD], 'mix.csv', { type: 'text/csv' })] } });
    const fit = screen.getByRole('button', { name: 'Fit model' });
    await waitFor(() => expect(fit).toHaveProperty('disabled', false));
    fireEvent.click(fit);
    await waitFor(() => expect(screen.getByTestId('mmm-data-error').textContent).toBe('data row 2, column tv: spend must not be negative'));
    answer = apiError(413, 'request body is larger than the limit of 2097152 bytes', 'payload_too_large');
    fireEvent.click(fit);
    await waitFor(() => expect(screen.getByTestId('mmm-data-error').textContent).toMatch(/the server accepts at most 2 MB/));
  });
});

describe('MMM words', () => {
  const fit: MmmFit = {
    model: { adstock: 'geometric', nrmse: 0.08, decomp_rssd: 0.3, r_squared: 0.91, channels: [], baseline: [], intercept: 0 },
    front: [{ nrmse: 0.08, decomp_rssd: 0.3, lambda: 1, roas: [], chosen: true }, { nrmse: 0.12, decomp_rssd: 0.05, lambda: 2, roas: [], chosen: false }],
    evaluated: 600,
    choice: 'lowest NRMSE on the Pareto front of (NRMSE, DECOMP.RSSD)',
  };

  it('speaks marketer words with the statistics one click away', () => {
    const { container } = render(<MmmResults jobId="j" fit={fit} />);
    expect(screen.getByText('How well the model fits past sales')).toBeTruthy();
    expect(screen.getByText('How realistic the channel split is')).toBeTruthy();
    expect(screen.getByRole('heading', { name: 'Best budget options' })).toBeTruthy();
    expect(screen.getByTestId('mmm-quality').textContent).not.toMatch(/NRMSE|RSSD|Pareto/);
    const details = screen.getByTestId('mmm-statistics');
    expect(details.tagName).toBe('DETAILS');
    expect(details.textContent).toMatch(/NRMSE/);
    expect(details.textContent).toMatch(/DECOMP\.RSSD/);
    // The statistical names live inside <details> or tooltips only.
    for (const el of container.querySelectorAll('h2, h3, dt, th')) {
      if (!el.closest('details')) expect(el.textContent).not.toMatch(/NRMSE|DECOMP|Pareto/);
    }
    expect(MMM_WORDS.front.stat).toMatch(/Pareto/);
    expect(fitWords(0.08)).toBe('close');
    expect(splitWords(0.3)).toMatch(/far from/);
  });
});

const creative = (id: string, name: string, platform: string, assets: Record<string, string>): Creative => ({
  id, campaign_id: 'c', platform, name, copy: {}, assets, status: 'approved', job_id: null, version: 1, created_at: 0, updated_at: 0,
});

describe('creatives by concept and format', () => {
  const list = [
    creative('1a386839-aaaa', 'Roasted to order', 'meta', { meta_stories: 'x', 'poster:meta_stories': 'y' }),
    creative('2b000000-bbbb', 'Roasted to order', 'meta', { meta_stories: 'x' }),
    creative('3c000000-cccc', 'Morning ritual', 'tiktok', { 'video:tiktok_in_feed': 'v', tiktok_in_feed: 'i' }),
  ];

  it('labels a creative with its concept, platform and format', () => {
    expect(creativeLabel(list[0])).toBe('Roasted to order · meta · stories 1080×1920');
    expect(creativeLabel(list[2])).toBe('Morning ritual · tiktok · 2 formats');
    const labels = creativeLabels(list);
    expect(labels.get('2b000000-bbbb')).toBe('Roasted to order · meta · stories 1080×1920 (2)');
    expect(nameInWords(labels, 'creative 3c000000')).toBe('Morning ritual · tiktok · 2 formats');
    expect(nameInWords(labels, 'Control arm')).toBe('Control arm');
  });

  it('names the per-creative rows and the A/B line by concept, not id', () => {
    const totals = { impressions: 10, clicks: 1, spend: '1', spend_micros: 1_000_000, conversions: 0, revenue: '0', ctr: 0.1, cpa: null, roas: null };
    const report: Report = {
      campaign_id: 'c', currency: 'USD', days: 1, first_day: '2026-01-01', last_day: '2026-01-01', totals, platforms: [],
      creatives: [{ ...totals, creative_id: '1a386839-aaaa' }],
      best_vs_rest: { best_creative_id: '1a386839-aaaa', conversion_rate: 0.05, others_conversion_rate: 0.02, z: 2, p_value: 0.04, test: 'two-proportion z-test' },
    };
    render(<ReportPanel report={report} labels={creativeLabels(list)} />);
    expect(screen.getAllByTestId('report-row').map((r) => r.querySelector('th')!.textContent)).toContain('Roasted to order · meta · stories 1080×1920');
    expect(screen.getByTestId('best-vs-rest').textContent).toMatch(/convert: Roasted to order · meta · stories 1080×1920 /);
    expect(screen.getByTestId('best-vs-rest').textContent).not.toMatch(/1a386839/);
  });

  it('names download folders and files with words, slugged', () => {
    expect(slug('Ridgeline Roasters, Inc.')).toBe('ridgeline-roasters-inc');
    expect(slug('Café crème')).toBe('cafe-creme');
    expect(zipName('Ridgeline Roasters · Dec')).toBe('ridgeline-roasters-dec-creatives.zip');
    const folders = creativeFolders('Ridgeline Roasters', list);
    expect(folders.get('1a386839-aaaa')).toBe('ridgeline-roasters/roasted-to-order-meta');
    expect(folders.get('2b000000-bbbb')).toBe('ridgeline-roasters/roasted-to-order-meta-2');
    expect(entryPath(folders.get('3c000000-cccc')!, 'video:tiktok_in_feed', 'video/mp4')).toBe('ridgeline-roasters/morning-ritual-tiktok/tiktok-in-feed-video.mp4');
    expect(entryPath('x', 'meta_stories', 'image/png; charset=binary')).toBe('x/meta-stories.png');
    for (const f of folders.values()) expect(f).not.toMatch(/[0-9a-f]{8}/);
  });
});
