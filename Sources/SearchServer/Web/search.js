// Search: a photo from drag and drop, the clipboard, a file picker, a URL or the camera; results as a grid.

import { api, parseFilters } from './api.js';
import { h, icon, icons, formatMilliseconds, matchGrid, emptyState, errorNotice, spinner, show } from './ui.js';
import { CameraCapture } from './camera.js';

export class SearchPage {
    constructor(root) {
        this.root = root;
        this.queryURL = null; // object URL of the query preview, revoked when replaced
        this.generation = 0; // only the newest search may write the results

        this.fileInput = h('input', { type: 'file', id: 'search-file', accept: 'image/*', class: 'visually-hidden' });
        this.fileInput.addEventListener('change', () => {
            const file = this.fileInput.files?.[0];
            if (file) this.searchBlob(file);
            this.fileInput.value = '';
        });
        this.urlInput = h('input', { type: 'url', id: 'search-url', name: 'url', placeholder: 'https://example.com/photo.jpg', autocomplete: 'off', inputmode: 'url', required: true });
        this.kInput = h('input', { type: 'number', id: 'search-k', min: 1, max: 100, value: 8, inputmode: 'numeric' });
        this.minScoreInput = h('input', { type: 'range', id: 'search-min-score', min: 0, max: 1.5, step: 0.05, value: 0, title: 'Scores run to about 1.5: the vectors\' similarity, plus up to 0.5 for the local features a verifying model matches' });
        this.minScoreValue = h('output', { for: 'search-min-score', class: 'range-value' }, '0.00');
        this.minScoreInput.addEventListener('input', () => (this.minScoreValue.textContent = Number(this.minScoreInput.value).toFixed(2)));
        this.filterInput = h('input', { type: 'text', id: 'search-filter', placeholder: 'collection=mate', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'search-filter-help' });

        this.dropzone = h(
            'div',
            { class: 'dropzone', id: 'dropzone' },
            h('div', { class: 'dropzone-icon' }, icon(icons.upload)),
            h('p', { class: 'dropzone-title' }, h('span', { class: 'for-pointer' }, 'Drop a photo here'), h('span', { class: 'for-touch' }, 'Show vsearch an object')),
            h('p', { class: 'dropzone-text' }, h('span', { class: 'for-pointer' }, 'or paste one with ', h('kbd', {}, 'Ctrl'), '+', h('kbd', {}, 'V')), h('span', { class: 'for-touch' }, 'Take a picture of it, or pick one you have')),
            h(
                'div',
                { class: 'dropzone-actions' },
                h('label', { class: 'button button-primary', for: 'search-file' }, icon(icons.image), 'Choose photo'),
                h('button', { type: 'button', class: 'button', id: 'search-camera', onclick: () => this.camera.open() }, icon(icons.camera), 'Camera'),
            ),
            this.fileInput,
        );
        this.camera = new CameraCapture((blob) => this.searchBlob(blob));
        this.preview = h('div', { class: 'query-preview', hidden: true });
        this.results = h('div', { class: 'results', id: 'search-results', 'aria-live': 'polite' });

        const urlForm = h(
            'form',
            { class: 'url-form', onsubmit: (event) => (event.preventDefault(), this.searchURL()) },
            h('label', { for: 'search-url' }, icon(icons.link), 'Or search by image URL'),
            h('div', { class: 'input-row' }, this.urlInput, h('button', { type: 'submit', class: 'button' }, 'Search')),
        );
        const options = h(
            'details',
            { class: 'options' },
            h('summary', {}, 'Search options'),
            h(
                'div',
                { class: 'options-grid' },
                h('div', { class: 'field' }, h('label', { for: 'search-k' }, 'Results (k)'), this.kInput),
                h('div', { class: 'field' }, h('label', { for: 'search-min-score' }, 'Minimum score ', this.minScoreValue), this.minScoreInput),
                h('div', { class: 'field field-wide' }, h('label', { for: 'search-filter' }, 'Attribute filters'), this.filterInput, h('small', { id: 'search-filter-help' }, 'key=value, several separated by commas. Items must match all.')),
            ),
        );

        root.append(
            h('div', { class: 'page-head' }, h('div', {}, h('h1', { id: 'search-title' }, 'Search by photo'), h('p', { class: 'lede' }, 'Show vsearch an object; get the most similar catalogue items.'))),
            h('div', { class: 'search-layout' }, h('div', { class: 'search-input' }, this.dropzone, this.camera.element, urlForm, options), h('div', { class: 'search-output' }, this.preview, this.results)),
        );
        this.showIdle();
        this.wireDragAndDrop();
    }

    enter() {}

    leave() {
        this.camera.close();
    }

    showIdle() {
        show(this.results, emptyState(icons.image, 'Your results will appear here', 'Use a clear photo of one object. Drag it in, paste it, pick a file, give a URL or take a picture.'));
    }

    wireDragAndDrop() {
        const zone = this.dropzone;
        let depth = 0; // dragenter/dragleave fire for children too
        zone.addEventListener('dragenter', (event) => (event.preventDefault(), depth++, zone.classList.add('dragging')));
        zone.addEventListener('dragover', (event) => event.preventDefault());
        zone.addEventListener('dragleave', () => --depth <= 0 && ((depth = 0), zone.classList.remove('dragging')));
        zone.addEventListener('drop', (event) => {
            event.preventDefault();
            depth = 0;
            zone.classList.remove('dragging');
            const file = [...(event.dataTransfer?.files ?? [])].find((candidate) => candidate.type.startsWith('image/'));
            if (file) return this.searchBlob(file);
            const url = event.dataTransfer?.getData('text/uri-list') || event.dataTransfer?.getData('text/plain');
            if (url && /^https?:\/\//.test(url.trim())) {
                this.urlInput.value = url.trim();
                return this.searchURL();
            }
            this.showError(new Error('That was not an image file. Drop a JPEG, PNG or WebP photo.'), 'Nothing to search with');
        });
    }

    options() {
        const k = Math.max(1, Math.min(100, Math.round(Number(this.kInput.value) || 8)));
        return { k, minScore: Number(this.minScoreInput.value) || 0, filters: parseFilters(this.filterInput.value) };
    }

    searchBlob(blob) {
        if (this.queryURL) URL.revokeObjectURL(this.queryURL);
        this.queryURL = URL.createObjectURL(blob);
        this.run(this.queryURL, blob.name || 'Pasted or captured photo', (options) => api.searchImage(blob, options));
    }

    searchURL() {
        const url = this.urlInput.value.trim();
        if (!this.urlInput.checkValidity() || !/^https?:\/\//i.test(url)) {
            this.showError(new Error('Enter an http:// or https:// address of an image.'), 'Not a usable URL');
            return;
        }
        this.run(url, url, (options) => api.searchURL(url, options));
    }

    async run(previewSource, caption, search) {
        const generation = ++this.generation;
        let options;
        try {
            options = this.options();
        } catch (error) {
            this.showError(error, 'Check the filters');
            return;
        }
        this.preview.hidden = false;
        show(this.preview, h('img', { src: previewSource, alt: 'Your query photo' }), h('div', { class: 'preview-caption' }, h('span', { class: 'preview-name' }, caption), h('span', { class: 'preview-timing' }, 'Searching…')));
        show(this.results, spinner('Searching'));
        this.revealResults();
        try {
            const answer = await search(options);
            if (generation !== this.generation) return;
            const timing = this.preview.querySelector('.preview-timing');
            if (timing) timing.textContent = `${answer.matches.length} result${answer.matches.length === 1 ? '' : 's'} in ${formatMilliseconds(answer.timing?.total_ms)}`;
            show(this.results, matchGrid(answer.matches, { label: 'Search results', size: 384, eager: true, emptyTitle: 'No matches', emptyText: options.filters.length || options.minScore > 0 ? 'Nothing passed the minimum score and filters. Loosen them in Search options.' : 'The catalogue has nothing close to this photo.' }));
            this.revealResults();
        } catch (error) {
            if (generation !== this.generation) return;
            const timing = this.preview.querySelector('.preview-timing');
            if (timing) timing.textContent = 'Search failed';
            this.showError(error, 'The search failed');
            this.revealResults();
        }
    }

    /** On a phone the results are below the inputs: bring the query and its results into view. */
    revealResults() {
        if (this.preview.getBoundingClientRect().top <= window.innerHeight * 0.6) return;
        const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
        this.preview.scrollIntoView({ behavior: smooth ? 'smooth' : 'auto', block: 'start' });
    }

    showError(error, title) {
        show(this.results, errorNotice(error, title));
    }
}
