/**
 * Files going up to the API: `POST /api/assets?name=` (logo, product photo) with a check in
 * the page first (the type the file claims matches its first bytes, the size within the
 * server's limit), and the limits the page knows, said before upload.
 */

import { ApiError, request } from './api';
import { formatBytes, uploadError } from './forms';

/** The server's cap on one uploaded asset (`MAX_UPLOAD_BYTES` in src/api/assets.rs). */
export const MAX_ASSET_BYTES = 256 * 1024 * 1024;
/** The page's cap on a logo or product photo: larger images only slow rendering down. */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
/**
 * The server's default cap on a job's payload (`--max-payload-bytes`, 256 KB): an MMM CSV
 * travels inside the job's payload, so it must fit in it with the column names.
 */
export const MAX_MMM_CSV_BYTES = 256 * 1024;

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;

/** The image type the first bytes say (PNG, JPEG, WebP), or null. */
export function sniffImage(bytes: Uint8Array): (typeof IMAGE_TYPES)[number] | null {
  const starts = (sig: number[], at = 0) => sig.every((b, i) => bytes[at + i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts([0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return 'image/webp';
  return null;
}

/** A blob's bytes (FileReader where `Blob.arrayBuffer` is missing, as in older engines). */
export function readBytes(blob: Blob): Promise<Uint8Array> {
  if (typeof blob.arrayBuffer === 'function') return blob.arrayBuffer().then((b) => new Uint8Array(b));
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(new Uint8Array(reader.result as ArrayBuffer));
    reader.onerror = () => reject(reader.error);
    reader.readAsArrayBuffer(blob);
  });
}

/** A file's text (UTF-8). */
export async function readText(blob: Blob): Promise<string> {
  if (typeof blob.text === 'function') return blob.text();
  return new TextDecoder().decode(await readBytes(blob));
}

/** Why an image file cannot go up (the field named first), or null when it may. */
export async function checkImageFile(field: string, file: File, maxBytes = MAX_IMAGE_BYTES): Promise<string | null> {
  if (file.size === 0) return `${field}: the file is empty`;
  if (file.size > maxBytes) return `${field}: the file is ${formatBytes(file.size)}; at most ${formatBytes(maxBytes)} is accepted`;
  const head = await readBytes(file.slice(0, 16));
  const kind = sniffImage(head);
  if (!kind) return `${field}: "${file.name}" is not a PNG, JPEG or WebP image`;
  return null;
}

/** A file name the asset store accepts: letters, digits, `.`, `_` and `-`. */
export function assetName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  return cleaned.slice(-100) || 'upload';
}

/**
 * Checks and uploads an image for `field`; answers the asset id. Every refusal (the page's
 * or the server's) is an ApiError whose message starts with `field`.
 */
export async function uploadImage(field: string, file: File): Promise<string> {
  const problem = await checkImageFile(field, file);
  if (problem) throw new ApiError(400, 'invalid_upload', problem);
  const head = await readBytes(file.slice(0, 16));
  try {
    const answer = await request<{ id: string }>(`/api/assets?name=${encodeURIComponent(assetName(file.name))}`, {
      method: 'POST',
      body: file,
      contentType: sniffImage(head) ?? (file.type || 'application/octet-stream'),
    });
    return answer.data.id;
  } catch (e) {
    throw uploadError(field, e, file.size);
  }
}
