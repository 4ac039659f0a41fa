// A webcam snapshot through getUserMedia, shown in a panel; the camera is released as soon as it is not needed.

import { h, icon, icons, errorNotice, show } from './ui.js';

export class CameraCapture {
    /** `onCapture(blob)` receives a JPEG of the frame the person took. */
    constructor(onCapture) {
        this.onCapture = onCapture;
        this.stream = null;
        this.video = h('video', { playsinline: true, muted: true, autoplay: true, 'aria-label': 'Camera preview' });
        this.body = h('div', { class: 'camera-body' });
        this.captureButton = h('button', { type: 'button', id: 'camera-capture', class: 'button button-primary', onclick: () => this.capture() }, icon(icons.camera), 'Take photo and search');
        this.element = h(
            'section',
            { class: 'camera', id: 'camera-panel', hidden: true, 'aria-label': 'Camera' },
            this.body,
            h('div', { class: 'camera-actions' }, this.captureButton, h('button', { type: 'button', class: 'button button-quiet', onclick: () => this.close() }, 'Close camera')),
        );
    }

    async open() {
        this.element.hidden = false;
        if (!navigator.mediaDevices?.getUserMedia) {
            this.fail(window.isSecureContext ? 'This browser cannot use a camera.' : 'The camera works only over HTTPS or on localhost. Upload a photo instead.');
            return;
        }
        show(this.body, h('p', { class: 'camera-wait' }, 'Waiting for the camera…'));
        try {
            this.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 } }, audio: false });
            this.video.srcObject = this.stream;
            show(this.body, this.video);
            this.captureButton.hidden = false;
            this.captureButton.focus();
        } catch (error) {
            const reasons = {
                NotAllowedError: 'Camera permission was refused. Allow it in the browser’s site settings, or upload a photo instead.',
                NotFoundError: 'No camera was found on this device. Upload a photo instead.',
                NotReadableError: 'The camera is in use by another application.',
                OverconstrainedError: 'The camera cannot give a usable picture.',
            };
            this.fail(reasons[error?.name] ?? `The camera could not start (${error?.message ?? error}).`);
        }
    }

    fail(message) {
        this.captureButton.hidden = true;
        show(this.body, errorNotice(new Error(message), 'No camera'));
    }

    capture() {
        const { videoWidth: width, videoHeight: height } = this.video;
        if (!width || !height) return;
        const canvas = h('canvas', { width, height });
        canvas.getContext('2d').drawImage(this.video, 0, 0, width, height);
        canvas.toBlob((blob) => {
            if (!blob) return;
            this.close();
            this.onCapture(new File([blob], 'camera.jpg', { type: 'image/jpeg' }));
        }, 'image/jpeg', 0.9);
    }

    close() {
        for (const track of this.stream?.getTracks() ?? []) track.stop();
        this.stream = null;
        this.video.srcObject = null;
        this.element.hidden = true;
    }
}
