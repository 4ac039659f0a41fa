// The vsearch HTTP API as the pages use it. Every failure becomes an ApiError whose message is the
// one line the server wrote in its JSON error body, so pages can show it as it is.

const API = '/api/v1';

export class ApiError extends Error {
    constructor(message, status, code) {
        super(message);
        this.name = 'ApiError';
        this.status = status;
        this.code = code;
    }
}

async function request(path, options = {}) {
    let response;
    try {
        response = await fetch(path, { headers: { Accept: 'application/json' }, ...options });
    } catch (error) {
        throw new ApiError(`Cannot reach the vsearch server (${error.message}).`, 0, 'network');
    }
    if (response.status === 204) return null;
    const type = response.headers.get('content-type') ?? '';
    if (!response.ok) {
        let message = `The server answered ${response.status} ${response.statusText}`.trim() + '.';
        let code = `http_${response.status}`;
        if (type.includes('json')) {
            try {
                const body = await response.json();
                if (body?.error?.message) message = body.error.message;
                if (body?.error?.code) code = body.error.code;
            } catch {
                // The status line is still a useful message.
            }
        }
        throw new ApiError(message, response.status, code);
    }
    if (!type.includes('json')) throw new ApiError(`Expected JSON from ${path}, got ${type || 'nothing'}.`, response.status, 'bad_response');
    return response.json();
}

/** Parses `key=value` filters separated by commas or new lines; throws on a filter with no `=`. */
export function parseFilters(text) {
    const filters = [];
    for (const part of text.split(/[,\n]/)) {
        const trimmed = part.trim();
        if (!trimmed) continue;
        const equals = trimmed.indexOf('=');
        if (equals <= 0) throw new ApiError(`Filter "${trimmed}" needs the form key=value.`, 0, 'bad_filter');
        filters.push([trimmed.slice(0, equals).trim(), trimmed.slice(equals + 1).trim()]);
    }
    return filters;
}

function searchQuery({ k, minScore, filters }) {
    const query = new URLSearchParams();
    if (k) query.set('k', String(k));
    if (minScore > 0) query.set('min_score', String(minScore));
    for (const [key, value] of filters ?? []) query.append('where', `${key}=${value}`);
    const text = query.toString();
    return text ? `?${text}` : '';
}

export const api = {
    health: () => request('/healthz'),
    latestMatch: () => request(`${API}/matches/latest`),
    recentMatches: (limit) => request(`${API}/matches/recent?limit=${limit}`),
    items: (offset, limit) => request(`${API}/items?offset=${offset}&limit=${limit}`),
    item: (id) => request(`${API}/items/${encodeURIComponent(id)}`),
    similar: (id, k) => request(`${API}/items/${encodeURIComponent(id)}/similar?k=${k}`),

    /** Searches with an image file or blob, sent as multipart `image`. */
    searchImage(blob, options) {
        const form = new FormData();
        form.append('image', blob, blob.name || 'query.jpg');
        return request(`${API}/search${searchQuery(options)}`, { method: 'POST', body: form });
    },

    /** Searches with an image the server fetches from `url`. */
    searchURL(url, options) {
        return request(`${API}/search${searchQuery(options)}`, {
            method: 'POST',
            headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
            body: JSON.stringify({ url }),
        });
    },
};

export const streamURL = `${API}/matches/stream`;

/** The URL of an item's thumbnail at `size` pixels on its longest side. */
export function thumbnailURL(item, size) {
    const base = item.thumbnail || `${API}/items/${encodeURIComponent(item.id)}/thumbnail`;
    return `${base}${base.includes('?') ? '&' : '?'}size=${size}`;
}
