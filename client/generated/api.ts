// Generated from openapi.yaml by `npm run gen` (openapi-typescript); do not edit.
export interface paths {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Liveness, and what the daemon refuses
         * @description Answers 200 while the daemon serves requests: status ok, or degraded with the reasons, e.g. too little free space on the state dir's filesystem (new VMs, images and snapshots get 507 insufficient-storage; deletes and stops still work). It checks no host tool and no VM. A daemon that is shutting down answers 503.
         */
        get: operations["health"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/version": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Daemon and runtime versions
         * @description The daemon's version (its package.json) and the Node.js version it runs on, e.g. to check that a client and the daemon match.
         */
        get: operations["version"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * This API as OpenAPI 3.1
         * @description The document this daemon serves, generated from its own schemas; the same as openapi.yaml in its source.
         */
        get: operations["openapi"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Metrics in the Prometheus text format
         * @description For a Prometheus scrape: requests by method, route template and status (banger_http_requests_total) and their durations (banger_http_request_duration_seconds); job durations by kind and status (banger_job_duration_seconds) and stage durations by kind, stage and status (banger_job_stage_duration_seconds); VMs by state (banger_vms, every state listed); boot and restore phase durations (banger_vm_boot_phase_duration_seconds); the process (banger_process_*, banger_nodejs_*). Every label value comes from a fixed set. Counters and histograms start at zero when the daemon starts.
         */
        get: operations["getMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/images": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List images, ordered by name
         * @description One page of the image catalogue, managed and unmanaged, ordered by name: `limit` items (default 50, at most 500) and a `nextCursor` to pass as ?cursor= for the next page, null on the last.
         */
        get: operations["listImages"];
        put?: never;
        /**
         * Register existing image files (unmanaged); re-registering a name updates it
         * @description Records files already on the host as an unmanaged image: banger uses them where they are and never deletes them. Every path must be absolute and, after resolving symlinks, an existing regular file (a directory for modulesDir) that is what it claims to be: an ext4 filesystem (rootfs, work seed), a Linux kernel (bzImage or ELF vmlinux), an initrd (cpio, possibly compressed), a kernel modules dir, a UTF-8 text file of at most 1 MiB (packages). Nothing under /proc, /sys or /dev is accepted, and the real path must lie inside the import roots (<state-dir>/imports and BANGER_IMPORT_ROOTS) when BANGER_IMPORT_ROOTS is set or the request comes over TCP. All failures are reported together (422 preflight-failed). A managed image of that name is refused (409 image-managed). Not a job: it answers at once.
         */
        post: operations["registerImage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/images/{idOrName}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Show one image
         * @description An image by id or name: its artifact paths, whether banger manages them, its services, the fingerprint of the SSH key in its work seed and its warm snapshot, if any.
         */
        get: operations["getImage"];
        put?: never;
        post?: never;
        /**
         * Delete an image; its artifacts too when managed. Refused while VMs use it
         * @description Answers with the image as it was. A managed image's artifact directory is removed; an unmanaged image's files stay where they are. Refused with 409 image-in-use, naming them, while VMs or snapshots (other than its warm snapshot, which is dropped) use it.
         */
        delete: operations["deleteImage"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/images/builds": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Build a managed image from a recipe or a base rootfs (a job; its log path is in the job)
         * @description Stages: `preflight` → `fetch_kernel` → `bootstrap_rootfs` → `install_packages` → `install_modules` → `install_guest_files` → `make_initrd` → `make_rootfs` → `make_work_seed` → `seed_ssh_key` → `write_metadata` → `persisted`.
         */
        post: operations["buildImage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/images/{idOrName}/reseed": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Write the daemon's current SSH key into a managed image's work seed
         * @description Rewrites the authorized key in the work seed in place (debugfs, no mount) and records its fingerprint, so VMs created afterwards accept the daemon's current key; the image's warm snapshot, which holds the old key, is dropped. Answers with the image once done (not a job). Refused with 409 image-not-managed for an unmanaged image.
         */
        post: operations["reseedImage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/images/{idOrName}/promote": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Copy an unmanaged image's artifacts into banger's artifact dir (a job)
         * @description Stages: `copy_rootfs` → `copy_work_seed` → `seed_ssh_key` → `write_metadata` → `activate_artifacts`.
         */
        post: operations["promoteImage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List VMs, ordered by name; filter by state and labels (?label=key=value, repeatable)
         * @description One page of VMs (`limit`, default 50, at most 500; `nextCursor` for the next page, null on the last) that are in `state` and carry every label given. Services show what the guest agent last said (asked every few seconds); hostOverheadBytes is null here, measured only by GET /vms/{idOrName}.
         */
        get: operations["listVms"];
        put?: never;
        /**
         * Create and boot a VM (a job)
         * @description Boots the image: Stages: `validate` → `clone_disks` → `seed_work_disk` → `allocate_network` → `spawn` → `kernel_boot` → `agent_ready` → `ports_ready` → `running`. With snapshot (or an image whose warm snapshot fits the request) it restores instead: Stages: `validate` → `clone_disks` → `restore_state` → `resume` → `reidentify` → `agent_ready` → `ports_ready` → `running`. With start: false the boot stages are skipped and the VM ends stopped, its disks made and ports reserved, for POST /vms/{idOrName}/start. A name held by a failed create's VM is taken over (that VM is deleted); held by any other VM, it is 409 vm-name-taken.
         */
        post: operations["createVm"];
        /**
         * Delete every VM that carries all the given labels (one job for all of them)
         * @description Stages, for each target in turn, recorded as `<stage> <target name>`: `delete`.
         */
        delete: operations["deleteVmsByLabel"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{idOrName}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Show one VM: state, resources, published ports, SSH, timings
         * @description A VM by id or name. For a running VM whose image has services it first asks the guest agent how they are doing (unless it answered within the last second); for a running or paused VM it measures hostOverheadBytes, the hypervisor's resident memory beyond guest RAM.
         */
        get: operations["getVm"];
        put?: never;
        post?: never;
        /**
         * Delete a VM (a job): its process, disks, sockets and port reservations go
         * @description Stages: `stop_hypervisor` → `remove_files` → `release_network` → `deleted`.
         */
        delete: operations["deleteVm"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{idOrName}/stop": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Stop a running VM (a job): ACPI power button, then the hypervisor quits after the grace
         * @description Stages: `stop_hypervisor` → `stopped`.
         */
        post: operations["stopVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{idOrName}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Pause a running VM: its vCPUs stop, its memory, disks and ports stay (answers once it is paused)
         * @description Runs as a short job (kind vm.pause) so that it never overlaps another job on the VM, and answers with the paused VM. Stop, restart, delete and snapshots work from `paused`.
         */
        post: operations["pauseVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{idOrName}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Resume a paused VM where it stopped (answers once it runs)
         * @description Runs as a short job (kind vm.resume) and answers with the running VM.
         */
        post: operations["resumeVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{idOrName}/start": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Boot a stopped VM from its disks (a job, with the same readiness stages as a create)
         * @description Stages: `validate` → `spawn` → `kernel_boot` → `agent_ready` → `ports_ready` → `running`. Refused (409 vm-limit-reached) while BANGER_MAX_VMS VMs run or are on their way.
         */
        post: operations["startVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{idOrName}/restart": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Stop (if running) and boot a VM again (a job)
         * @description Stages: `stop_hypervisor` → `validate` → `spawn` → `kernel_boot` → `agent_ready` → `ports_ready` → `running`.
         */
        post: operations["restartVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{idOrName}/console": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The VM's serial console log (text/plain); ?tail=N for the last N lines
         * @description What the guest wrote to its serial console (kernel messages, boot output, a login prompt) in any state, as UTF-8 text: the last MiB of the log, or the last `tail` lines of that MiB. Empty before the VM's first boot.
         */
        get: operations["getVmConsole"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{idOrName}/exec": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Run a program in a running VM and stream its output
         * @description Runs the command in the guest over its shell channel (SSH on a virtio-serial port; no guest network needed) and streams application/x-ndjson: one ExecEvent per line, `started`, then `output` as the guest writes it (stdout and stderr apart), then `exit`. A client that disconnects before the exit kills the program and everything it started. Several execs may run on one VM at once. Problems that come before the program starts (bad request, VM not running, guest unreachable) are problem+json responses instead. An Idempotency-Key header is ignored here: a live stream cannot be replayed, so a retried request runs the command again.
         */
        post: operations["execInVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{idOrName}/execs/{execId}/stdin": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Stream standard input to a running exec
         * @description For an exec started with "stdinStream": true (its execId is in the started event): the body streams into the program’s standard input, which is closed when the body ends; the answer comes then. The guest reads at its own pace (SSH flow control), so input of any size passes without being held in the daemon. Sent once per exec. A body that breaks off kills the program rather than let it take a cut input for the whole.
         */
        put: operations["sendExecStdin"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{idOrName}/files": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Copy a file or a directory out of a running VM
         * @description A regular file comes as application/octet-stream with its Content-Length and its mode in X-Banger-File-Mode; a directory comes as an application/x-tar stream of its contents (made by the guest’s tar). Symlinks are followed. Streams end to end (SFTP over the VM’s shell channel): nothing is held whole in the daemon. If the guest’s tar fails part-way the connection is cut, so a partial archive never looks complete.
         */
        get: operations["readGuestFile"];
        /**
         * Copy a file or a directory into a running VM
         * @description application/octet-stream: the body becomes the file at path (written beside it and renamed into place when complete, so a transfer that breaks off leaves the old file or none). application/x-tar: the archive is unpacked into the directory at path (created, or merged into an existing one) by the guest’s tar, also only once it arrived whole. The body streams to the guest and has no size limit but the guest disk’s: a full disk is 507 guest-disk-full. Missing parents are 404 unless mkdirs=true.
         */
        put: operations["writeGuestFile"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{idOrName}/snapshots": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Snapshot a running or paused VM (a job): its memory and device state and its disks
         * @description The VM is paused while its state is saved and its disks are frozen as layers of the snapshot; then it goes on above them (or stops, with stop: true). Restore with POST /vms {"snapshot": name}. Stages: `validate` → `pause` → `save_state` → `freeze_disks` → `resume` → `stop` → `persisted`. One of resume and stop is skipped.
         */
        post: operations["createSnapshot"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/images/{idOrName}/warm": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Make a warm snapshot of an image (a job): creates from the image then restore it instead of booting
         * @description Boots a VM from the image with its RAM in a file, waits until its agent and the given ports are ready, snapshots it, deletes the VM, and records the snapshot on the image (replacing an older one). Afterwards POST /vms {image} restores it when cpus, memoryMiB and the work disk size match (warm: false forces a cold boot); the VM's bootMode says which happened. Re-seeding, re-registering or deleting the image drops it. Stages: `boot` → `settle` → `snapshot` → `remove_vm` → `persisted`.
         */
        post: operations["warmImage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/snapshots": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List snapshots, ordered by name
         * @description Snapshots are taken with POST /vms/{idOrName}/snapshots, or made by POST /images/{idOrName}/warm.
         */
        get: operations["listSnapshots"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/snapshots/{idOrName}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Show one snapshot: source VM, image, vCPUs, memory, size on disk, what stands on it
         * @description A snapshot by id or name. Only a `ready` one can be restored (POST /vms {"snapshot": name}), and only by the same hypervisor version and machine type; `dependents` lists the VMs and later snapshots on its disk layers, which keep it from being deleted.
         */
        get: operations["getSnapshot"];
        put?: never;
        post?: never;
        /**
         * Delete a snapshot and its files
         * @description Refused (409 snapshot-in-use, naming them) while VMs restored from it, the VM it was taken of, or later snapshots stand on its disk layers.
         */
        delete: operations["deleteSnapshot"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List jobs, newest first
         * @description One page of jobs, newest first (`limit`, default 50, at most 500; `nextCursor` for the next page, null on the last), filtered by status, kind and target: targetId matches any of a job’s targets, targetType alone also matches selections. Jobs are kept across daemon restarts.
         */
        get: operations["listJobs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Show a job; with ?wait=N, answer as soon as it finishes or after N seconds
         * @description Every job-starting operation answers 202 with the job and its Location, this URL. A job ends succeeded (its `result` set), failed (its `error` a problem, with `logPath` when there is a log) or cancelled; `stages` and `progress` show how far it got. With ?wait=N (at most 60) the answer waits for the job to finish, so polling needs no sleep.
         */
        get: operations["getJob"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel a job: its processes are killed and its partial files removed
         * @description Answers once the job has stopped, with its status `cancelled`. A job that has already finished is refused with 409 job-finished, and one whose kind cannot be cancelled (cancellable: false) with 409 job-not-cancellable.
         */
        post: operations["cancelJob"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Server-sent events, one per status or stage change; Last-Event-ID replays what was missed
         * @description A text/event-stream of the job: each event carries `id` (a sequence number), `event` (status or stage) and `data` (the whole Job as JSON). Events already past are sent first, after the Last-Event-ID header (or ?lastEventId=), then live ones; comments keep the connection alive every 15 s. The stream ends once the job has finished.
         */
        get: operations["streamJobEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        FieldError: {
            /** @description The request field at fault, e.g. rootfsPath or body.name */
            field: string;
            message: string;
            hint?: string;
        };
        /** @description An RFC 9457 problem; always served as application/problem+json */
        Problem: {
            /** @description urn:banger:problem:<code> */
            type: string;
            title: string;
            /** Format: int32 */
            status: number;
            /** @description Stable, machine-readable error code */
            code: string;
            /** @description Cut in the middle beyond 65536 characters; the log at logPath, when there is one, has the full output */
            detail: string;
            /** @description What to do about it */
            hint?: string;
            /** @description Host path of the log with the full output */
            logPath?: string;
            /** @description The first 100 fields at fault */
            errors?: components["schemas"]["FieldError"][];
            /**
             * Format: int64
             * @description insufficient-storage: bytes free on the daemon's state filesystem
             */
            freeBytes?: number;
            /**
             * Format: int64
             * @description insufficient-storage: bytes the refused work needed free (absent when a write met a full disk)
             */
            neededBytes?: number;
        };
        ImageServiceRequest: {
            /** @description 1-32 lowercase letters, digits or "-", starting with a letter */
            name: string;
            /** @description A shell command line, run by /bin/sh -c at boot; it should stay in the foreground. Its output goes to /var/log/banger/NAME.log in the guest */
            command: string;
            /**
             * Format: int32
             * @description The guest TCP port it serves: VMs publish it on 127.0.0.1 and wait for it, like a requested port
             */
            port?: number;
            /** @description The guest user it runs as; root when absent. The image must have that user */
            user?: string;
        };
        ImageService: {
            /** @description 1-32 lowercase letters, digits or "-", starting with a letter */
            name: string;
            /** @description A shell command line, run by /bin/sh -c at boot; it should stay in the foreground. Its output goes to /var/log/banger/NAME.log in the guest */
            command: string;
            /**
             * Format: int32
             * @description The guest TCP port it serves: VMs publish it on 127.0.0.1 and wait for it, like a requested port
             */
            port: number | null;
            /** @description The guest user it runs as; null: root */
            user: string | null;
        };
        Image: {
            id: string;
            name: string;
            /** @description True when the artifacts live in banger's artifact dir and are deleted with the image */
            managed: boolean;
            artifactDir: string | null;
            rootfsPath: string;
            workSeedPath: string | null;
            kernelPath: string;
            initrdPath: string | null;
            modulesDir: string | null;
            packagesPath: string | null;
            /** @description sha256 of the sorted, trimmed, deduplicated package list */
            packagesSha256: string | null;
            buildSize: string | null;
            /** @description Fingerprint of the daemon's SSH key seeded into the work seed */
            seededSshPublicKeyFingerprint: string | null;
            docker: boolean;
            /** @description Programs the image starts at boot (POST /images/builds services) */
            services: components["schemas"]["ImageService"][];
            /** @description The snapshot creates from this image restore by default (POST /images/{idOrName}/warm); null when there is none */
            warmSnapshot: {
                id: string;
                href: string;
            } | null;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
            href: string;
        };
        ImageList: {
            items: components["schemas"]["Image"][];
            /** @description Pass as ?cursor= for the next page; null on the last */
            nextCursor: string | null;
        };
        RegisterImageRequest: {
            /** @description 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit; never 16 lowercase hex digits, the shape of an id (422) */
            name: string;
            /** @description Absolute path of an ext4 rootfs image */
            rootfsPath: string;
            /** @description Absolute path of the kernel; defaults to the daemon's default kernel */
            kernelPath?: string;
            /** @description Absolute path of the work-seed ext4 image; found beside the rootfs when omitted */
            workSeedPath?: string;
            /** @description Absolute path of the initrd */
            initrdPath?: string;
            /** @description Absolute path of the kernel modules directory */
            modulesDir?: string;
            /** @description Absolute path of the packages manifest, one package a line */
            packagesPath?: string;
            /** @description The image runs Docker (default false) */
            docker?: boolean;
        };
        BuildImageRequest: {
            /** @description 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit; never 16 lowercase hex digits, the shape of an id (422) */
            name: string;
            /**
             * @description Build from scratch: debian-bookworm (mmdebstrap) or busybox (seconds, for tests and tiny guests). Give recipe or baseRootfs.
             * @enum {string}
             */
            recipe?: "debian-bookworm" | "busybox";
            /** @description Build from an existing ext4 rootfs image (a Debian tree for packages to be installed) */
            baseRootfs?: string;
            /** @description Debian packages to install */
            packages?: string[];
            /** @description A file listing packages, one a line (# comments allowed) */
            packagesFile?: string;
            /** @description Kernel to boot; default: Debian's linux-image-cloud-amd64, fetched and cached */
            kernel?: string;
            /** @description Initrd for that kernel; default: one built from its modules */
            initrd?: string;
            /** @description Modules of that kernel (lib/modules/<version>) */
            modulesDir?: string;
            /** @description Rootfs size, e.g. 512M or 2G (64M..64G) */
            size?: string;
            /** @description Install Docker from Debian's packages (default false) */
            docker?: boolean;
            /** @description Programs to start at boot: systemd units on Debian, rc.d scripts on busybox. A service's port is published and waited for when a VM boots; a service that exits is shown in the VM's stateReason with the end of its log */
            services?: components["schemas"]["ImageServiceRequest"][];
        };
        /** @enum {string} */
        JobStatus: "queued" | "running" | "succeeded" | "failed" | "cancelled";
        JobStage: {
            /** @description The stage, or `<stage> <target name>` for a kind whose stages repeat for each target */
            name: string;
            /** @enum {string} */
            status: "pending" | "running" | "succeeded" | "failed" | "cancelled" | "skipped";
            /** Format: date-time */
            startedAt: string | null;
            /** Format: date-time */
            finishedAt: string | null;
            /** Format: int64 */
            durationMs: number | null;
            detail?: string;
        };
        /** @description A resource a job changes */
        JobTarget: {
            type: "image" | "vm" | "snapshot";
            id: string;
            name?: string;
            href: string;
        };
        /** @description The resources a query selected (DELETE /vms?label=…): it has no id of its own; the job's targets are what it selected */
        JobSelection: {
            type: "image" | "vm" | "snapshot";
            /** @description The selector in words, e.g. label ci-run=4711 */
            name: string;
            /** @description Lists what the selector selects now, e.g. /vms?label=ci-run%3D4711 */
            href: string;
        };
        Job: {
            id: string;
            /** @description e.g. image.promote */
            kind: string;
            status: components["schemas"]["JobStatus"];
            /** @description What the job is about: its one resource (with an id), or the selection a job over the resources a query selected was asked for (no id) */
            target: components["schemas"]["JobTarget"] | components["schemas"]["JobSelection"];
            /** @description Every resource the job changes, in order; while the job is queued or running no other job may change them */
            targets: components["schemas"]["JobTarget"][];
            stages: components["schemas"]["JobStage"][];
            /**
             * Format: int32
             * @description Percent of stages done
             */
            progress: number;
            /** @description What the job produced, once succeeded */
            result: unknown;
            error: null | components["schemas"]["Problem"];
            logPath: string | null;
            cancellable: boolean;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            startedAt: string | null;
            /** Format: date-time */
            finishedAt: string | null;
            href: string;
        };
        JobList: {
            items: components["schemas"]["Job"][];
            nextCursor: string | null;
        };
        /**
         * @description creating → running; stopping → stopped; starting → running; failed (a create that did not finish); deleting
         * @enum {string}
         */
        VmState: "creating" | "starting" | "running" | "paused" | "stopping" | "stopped" | "failed" | "deleting";
        VmPort: {
            /** Format: int32 */
            guestPort: number;
            /** Format: int32 */
            hostPort: number;
            /** @description Forwards listen on loopback only */
            hostAddress: string;
            /** @description Creates and starts wait for this port to accept connections */
            wait: boolean;
        };
        VmService: {
            name: string;
            /**
             * Format: int32
             * @description The guest port it serves, published like a requested port
             */
            port: number | null;
            /**
             * @description As the guest agent last said: running, exited, not_started (not yet started at boot); unknown while the VM does not run or before the first answer
             * @enum {string}
             */
            state: "running" | "exited" | "not_started" | "unknown";
            /** @description Running and, when it has a port, listening on it */
            up: boolean;
            /**
             * Format: int32
             * @description Of an exited service; null when it was killed without one
             */
            exitStatus: number | null;
            /** @description The last 20 lines of an exited service's log (/var/log/banger/NAME.log in the guest), each cut to 300 bytes */
            logTail: string | null;
            /**
             * Format: date-time
             * @description When the guest agent was last asked
             */
            observedAt: string | null;
        };
        Vm: {
            id: string;
            name: string;
            state: components["schemas"]["VmState"];
            stateReason: {
                /** @description e.g. hypervisor_exited, kernel_panic, agent_timeout, port_timeout, interrupted, ttl_expired, stop_requested, created_stopped, host_disk_full (the hypervisor stopped the guest when its disk write met a full host disk; resumed once there is room) */
                code: string;
                /** @description Cut in the middle when very long */
                message: string;
                /** Format: date-time */
                at: string | null;
            } | null;
            image: {
                id: string;
                name: string | null;
                href: string;
            };
            /** Format: int32 */
            cpus: number;
            /** Format: int32 */
            memoryMiB: number;
            /** @description e.g. 1G */
            workDiskSize: string;
            /** Format: int64 */
            workDiskBytes: number;
            /** @description qemu */
            hypervisor: string;
            /** @enum {string|null} */
            accel: "kvm" | "tcg" | null;
            /**
             * Format: int32
             * @description The hypervisor process while it runs
             */
            pid: number | null;
            /** @description Published guest ports: SSH (22) always, then the requested ones and the image's services' ones */
            ports: components["schemas"]["VmPort"][];
            ssh: {
                host: string;
                /** Format: int32 */
                port: number;
                user: string;
                /** @description The daemon's private key (on the daemon's host) */
                privateKeyPath: string;
                /** @description A ready ssh command line */
                command: string;
            } | null;
            /** @description The image's services and whether each is up: asked of the guest on GET /vms/{idOrName}, every few seconds otherwise */
            services: components["schemas"]["VmService"][];
            /** @description Up to 32 labels; keys are 1-63 letters, digits, ".", "_", "/" or "-", starting with a letter or digit; values up to 255 characters */
            labels: {
                [key: string]: string;
            };
            /** Format: int32 */
            ttlSeconds: number | null;
            /**
             * Format: date-time
             * @description When the daemon deletes the VM
             */
            expiresAt: string | null;
            /** @description Milliseconds per phase of the last create or start (validate, clone_disks, …, ports_ready, running) and their total */
            timings: {
                [key: string]: number;
            } | null;
            /** Format: date-time */
            bootedAt: string | null;
            /**
             * @description How the guest came up last: cold (booted from its disks) or warm (restored from a snapshot); null before it first ran
             * @enum {string|null}
             */
            bootMode: "cold" | "warm" | null;
            /** @description The snapshot whose disk layers lie under this VM’s disks (it was restored from it, or snapshotted onto it) */
            baseSnapshot: {
                id: string;
                href: string;
            } | null;
            /**
             * Format: int64
             * @description Resident memory of the hypervisor process beyond guest RAM; measured on GET /vms/{idOrName} of a running VM (at most every 5 s: the figure may be that old), null otherwise (and in lists)
             */
            hostOverheadBytes: number | null;
            /** @description The VM's directory (disks, sockets, console log) */
            dir: string | null;
            consoleLogPath: string | null;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
            href: string;
        };
        VmList: {
            items: components["schemas"]["Vm"][];
            /** @description Pass as ?cursor= for the next page; null on the last */
            nextCursor: string | null;
        };
        CreateVmRequest: {
            /** @description 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit; never 16 lowercase hex digits, the shape of an id (422) */
            name?: string;
            /** @description Image id or name; give this or snapshot */
            image?: string;
            /** @description Restore this snapshot (id or name) instead of booting an image; cpus, memory and work disk come from it */
            snapshot?: string;
            /** @description With image: restore the image's warm snapshot when it has one and the resources match (default true); false forces a cold boot */
            warm?: boolean;
            /** @description Boot the VM once its disks are made (default true); false ends the create job with the VM stopped (state reason created_stopped), to be booted by POST /vms/{id}/start. Not with snapshot */
            start?: boolean;
            /**
             * Format: int32
             * @description vCPUs (default 1; at most the host limit)
             */
            cpus?: number;
            /**
             * Format: int32
             * @description Memory in MiB (default 512)
             */
            memoryMiB?: number;
            /** @description Work disk (/root) size, e.g. 2G; default 1G or the image's work seed size */
            workDiskSize?: string;
            /** @description Guest TCP ports to publish on 127.0.0.1 and wait for; 22 (SSH) is always published, and waited for only when listed */
            ports?: number[];
            /** @description Up to 32 labels; keys are 1-63 letters, digits, ".", "_", "/" or "-", starting with a letter or digit; values up to 255 characters */
            labels?: {
                [key: string]: string;
            };
            /**
             * Format: int32
             * @description Delete the VM this long after its creation
             */
            ttlSeconds?: number;
        };
        Snapshot: {
            id: string;
            name: string;
            /**
             * @description user: taken of a VM on request; warm: made by POST /images/{idOrName}/warm for fast creates from that image
             * @enum {string}
             */
            purpose: "user" | "warm";
            /**
             * @description creating: being saved; ready: can be restored; failed: its job ended early, but the VM it was taken of went on above its disk layers, so its files stay until that VM is deleted
             * @enum {string}
             */
            state: "creating" | "ready" | "failed";
            stateMessage: string | null;
            sourceVm: {
                /** @description null once that VM is deleted */
                id: string | null;
                name: string;
                href: string | null;
            };
            image: {
                id: string;
                name: string | null;
                href: string;
            };
            /** @description The snapshot whose disk layers lie under this one */
            baseSnapshot: {
                id: string;
                name: string;
                href: string;
            } | null;
            /** Format: int32 */
            cpus: number;
            /** Format: int32 */
            memoryMiB: number;
            /**
             * @description file: guest RAM is a file that restored VMs map copy-on-write (they share its pages); state: RAM is inside the state file and copied into each restored VM
             * @enum {string}
             */
            memory: "file" | "state";
            hypervisor: string;
            /** @description A restore needs this very hypervisor version ('' while creating) */
            hypervisorVersion: string;
            /** @description The machine type, e.g. q35 ('' while creating) */
            machine: string;
            /**
             * Format: int64
             * @description What its files (device and memory state, frozen disk layers) take on disk
             */
            sizeBytes: number;
            /** @description What stands on its disk layers, by name (the first 500 of each): it cannot be deleted while any remain */
            dependents: {
                vms: {
                    id: string;
                    name: string;
                    href: string;
                }[];
                snapshots: {
                    id: string;
                    name: string;
                    href: string;
                }[];
            };
            /** Format: date-time */
            createdAt: string;
            href: string;
        };
        SnapshotList: {
            items: components["schemas"]["Snapshot"][];
            /** @description Pass as ?cursor= for the next page; null on the last */
            nextCursor: string | null;
        };
        CreateSnapshotRequest: {
            /** @description 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit; never 16 lowercase hex digits, the shape of an id (422) */
            name: string;
            /** @description Stop the VM after the snapshot instead of letting it go on (on new disk layers above the frozen ones) */
            stop?: boolean;
        };
        WarmImageRequest: {
            /**
             * Format: int32
             * @description vCPUs of the warm VM; creates restore the snapshot only when they ask for the same (default 1)
             */
            cpus?: number;
            /**
             * Format: int32
             * @description Memory of the warm VM in MiB; creates must ask for the same (default 512)
             */
            memoryMiB?: number;
            /** @description Guest ports to wait for before the snapshot is taken, so the services behind them are up in every restored VM */
            ports?: number[];
        };
        ExecRequest: {
            /** @description argv: the program (looked up in the guest PATH) and its arguments, each passed as one word, never through a shell */
            command: string[];
            /** @description Environment variables added to the guest login environment */
            env?: {
                [key: string]: string;
            };
            /** @description Absolute working directory in the guest (default /root) */
            cwd?: string;
            /** @description Run as this guest user instead of root */
            user?: string;
            /** @description Standard input as text; the program sees end-of-file after it (and at once without stdin). Within the 64 KiB JSON body; use stdinStream for more */
            stdin?: string;
            /** @description Standard input as base64, for bytes that are not text. Within the 64 KiB JSON body */
            stdinBase64?: string;
            /** @description Standard input comes from PUT /vms/{idOrName}/execs/{execId}/stdin (execId from the started event), for input of any size; the program waits for it (bound it with timeoutSeconds) */
            stdinStream?: boolean;
            /**
             * Format: int32
             * @description Kill the program and everything it started after this long
             */
            timeoutSeconds?: number;
        };
        /** @description One line of an exec stream: started first, output as it happens, exit last (unless the guest connection broke, then the stream just ends) */
        ExecEvent: {
            /** @enum {string} */
            type: "started";
            execId: string;
        } | {
            /** @enum {string} */
            type: "output";
            stream: "stdout" | "stderr";
            /** @description One piece of output as the guest sent it: at most one SSH packet (35000 bytes), so at most 46672 characters as base64 */
            data: string;
            /** @description utf8: data is the text as written; base64: the bytes were not valid UTF-8 */
            encoding: "utf8" | "base64";
        } | {
            /** @enum {string} */
            type: "exit";
            /**
             * Format: int64
             * @description The program's exit status, 0-255 (SSH carries it as an unsigned 32-bit number); null when a signal ended the program
             */
            exitCode: number | null;
            /** @description The signal that ended it, without SIG (e.g. KILL) */
            signal: string | null;
            /** @description banger killed it when timeoutSeconds passed */
            timedOut: boolean;
            /** Format: int64 */
            durationMs: number;
        };
        WrittenPath: {
            /** @description The path written, made plain (no trailing slash, no . or ..) */
            path: string;
            type: "file" | "directory";
            /**
             * Format: int64
             * @description The bytes received: the file's size, or the tar archive's
             */
            sizeBytes: number;
            /** @description Of the file's content as written (files only) */
            sha256?: string;
            /** @description Octal permission bits, e.g. 0644 (files only) */
            mode?: string;
        };
        StdinSent: {
            execId: string;
            /**
             * Format: int64
             * @description Bytes passed to the program; its stdin is then closed
             */
            sizeBytes: number;
        };
    };
    responses: {
        /** @description The request could not be read (e.g. a Content-Length that does not match the body) (code bad-request, the request cannot be read) */
        BadRequest: {
            headers: {
                "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description TCP listener only: a missing or wrong bearer token (code unauthorized, missing or invalid bearer token) */
        Unauthorized: {
            headers: {
                "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                "WWW-Authenticate": components["headers"]["WwwAuthenticate"];
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description The body is over the limit (64 KiB for JSON) (code body-too-large, request body too large) */
        BodyTooLarge: {
            headers: {
                "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description The body is not of a content type this operation takes (code unsupported-media-type, unsupported media type) */
        UnsupportedMediaType: {
            headers: {
                "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description A parameter, header or body field is not valid; errors[] names each (code validation-failed, the request is not valid) */
        ValidationFailed: {
            headers: {
                "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description TCP listener only: too many requests a minute from this address (BANGER_TCP_RATE_LIMIT) (code rate-limited, too many requests from this address) */
        RateLimited: {
            headers: {
                "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                "Retry-After": components["headers"]["RetryAfter"];
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description An unexpected fault; the daemon log has the details (code internal, internal error) */
        Internal: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description The daemon's state filesystem is below BANGER_MIN_FREE_SPACE (new VMs, images, snapshots), or a write met a full disk; freeBytes says what is free (code insufficient-storage, not enough free space on the daemon's state filesystem) */
        InsufficientStorage: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description The daemon is shutting down; retry once it is back (code shutting-down, the daemon is shutting down) */
        ShuttingDown: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
    };
    parameters: never;
    requestBodies: never;
    headers: {
        /** @description TCP listener only (the unix socket has no rate limit): requests allowed a minute from this address */
        RateLimitLimit: number;
        /** @description TCP listener only (the unix socket has no rate limit): requests left in this minute */
        RateLimitRemaining: number;
        /** @description TCP listener only (the unix socket has no rate limit): seconds until the minute is over */
        RateLimitReset: number;
        /** @description Seconds to wait before trying again (every 429 carries it) */
        RetryAfter: number;
        /** @description Always Bearer realm="banger" */
        WwwAuthenticate: string;
        /** @description A strong tag of this page as sent (a hash of its bytes, with -br or -gzip when compressed): send it back in If-None-Match to get 304 while the page is unchanged */
        ETag: string;
        /** @description Always accept-encoding: the page is sent plain or compressed as Accept-Encoding asks */
        Vary: "accept-encoding";
        /** @description br or gzip when Accept-Encoding asked for it and the page is 1 KiB or more; absent for plain JSON */
        ContentEncoding: "br" | "gzip";
        /** @description The job to poll: /jobs/{id} */
        JobLocation: string;
        /** @description The new resource */
        CreatedLocation: string;
        /** @description Present (true) when this is the kept answer to an earlier request with the same Idempotency-Key, not a new one */
        IdempotentReplayed: "true";
    };
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    health: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description degraded: the daemon serves requests, but reasons[] says what it refuses or risks
                         * @enum {string}
                         */
                        status: "ok" | "degraded";
                        /** @description Empty when ok */
                        reasons: {
                            /** @enum {string} */
                            code: "low-free-space" | "space-reserve-released";
                            message: string;
                        }[];
                        storage: {
                            /** @description The state dir, whose filesystem holds the database, images, VM disks and snapshots */
                            path: string;
                            /**
                             * Format: int64
                             * @description Bytes free on it (leaving out root-reserved blocks)
                             */
                            freeBytes: number;
                            /**
                             * Format: int64
                             * @description BANGER_MIN_FREE_SPACE: below this, new VMs, images and snapshots are refused (507 insufficient-storage); 0: never
                             */
                            minFreeBytes: number;
                            /**
                             * Format: int64
                             * @description BANGER_SPACE_RESERVE: the file held back for deletes and stops on a full disk; 0: none
                             */
                            reserveBytes: number;
                            /** @description false once a full disk made the daemon give the reserve up (it is made again when there is room) */
                            reserveHeld: boolean;
                        };
                    };
                };
            };
            401: components["responses"]["Unauthorized"];
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
    version: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        version: string;
                        node: string;
                    };
                };
            };
            401: components["responses"]["Unauthorized"];
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
    openapi: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description An OpenAPI 3.1 document */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                };
            };
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
    getMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The metrics, one sample a line */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "text/plain; version=0.0.4; charset=utf-8": string;
                };
            };
            401: components["responses"]["Unauthorized"];
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
    listImages: {
        parameters: {
            query?: {
                /** @description Page size (default 50) */
                limit?: number;
                /** @description nextCursor from the previous page */
                cursor?: string;
            };
            header?: {
                /** @description br or gzip (by q-value, br when both are equally welcome) gets a page of 1 KiB or more compressed, about a fifteenth of its size; each compressed page is made once and kept while the page is unchanged. Without it, or with neither, the page is plain JSON. */
                "accept-encoding"?: string;
                /** @description The ETag of an earlier answer (or several, comma-separated, or *): while the page is still that answer, the reply is 304 with no body. A poller that sends back the last ETag pays for a page only when it changed. */
                "if-none-match"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    ETag: components["headers"]["ETag"];
                    Vary: components["headers"]["Vary"];
                    "Content-Encoding": components["headers"]["ContentEncoding"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ImageList"];
                };
            };
            /** @description Not modified: the page is still the one whose ETag came in If-None-Match; no body */
            304: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    ETag: components["headers"]["ETag"];
                    Vary: components["headers"]["Vary"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["Unauthorized"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
    registerImage: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request (method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused. */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RegisterImageRequest"];
            };
        };
        responses: {
            /** @description An unmanaged image of that name was updated */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Image"];
                };
            };
            /** @description The image was registered */
            201: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    Location: components["headers"]["CreatedLocation"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Image"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Request body too large */
            413: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            415: components["responses"]["UnsupportedMediaType"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    getImage: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Image"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
    deleteImage: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The deleted image */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Image"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    buildImage: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request (method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused. */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["BuildImageRequest"];
            };
        };
        responses: {
            /** @description The build job; poll its Location */
            202: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    Location: components["headers"]["JobLocation"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Request body too large */
            413: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            415: components["responses"]["UnsupportedMediaType"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    reseedImage: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request (method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused. */
                "idempotency-key"?: string;
            };
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The re-seeded image */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Image"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    promoteImage: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request (method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused. */
                "idempotency-key"?: string;
            };
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The promotion job; poll its Location */
            202: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    Location: components["headers"]["JobLocation"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    listVms: {
        parameters: {
            query?: {
                /** @description Page size (default 50) */
                limit?: number;
                /** @description nextCursor from the previous page */
                cursor?: string;
                state?: components["schemas"]["VmState"];
                /** @description key=value; repeat for several (all must match) */
                label?: string[];
            };
            header?: {
                /** @description br or gzip (by q-value, br when both are equally welcome) gets a page of 1 KiB or more compressed, about a fifteenth of its size; each compressed page is made once and kept while the page is unchanged. Without it, or with neither, the page is plain JSON. */
                "accept-encoding"?: string;
                /** @description The ETag of an earlier answer (or several, comma-separated, or *): while the page is still that answer, the reply is 304 with no body. A poller that sends back the last ETag pays for a page only when it changed. */
                "if-none-match"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    ETag: components["headers"]["ETag"];
                    Vary: components["headers"]["Vary"];
                    "Content-Encoding": components["headers"]["ContentEncoding"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VmList"];
                };
            };
            /** @description Not modified: the page is still the one whose ETag came in If-None-Match; no body */
            304: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    ETag: components["headers"]["ETag"];
                    Vary: components["headers"]["Vary"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["Unauthorized"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
    createVm: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request (method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused. */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateVmRequest"];
            };
        };
        responses: {
            /** @description The create job; poll its Location */
            202: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    Location: components["headers"]["JobLocation"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Request body too large */
            413: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            415: components["responses"]["UnsupportedMediaType"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    deleteVmsByLabel: {
        parameters: {
            query: {
                /** @description key=value; repeat for several (all must match) */
                label: string[];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The delete job; its result lists the deleted VMs */
            202: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    Location: components["headers"]["JobLocation"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    getVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
    deleteVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The delete job */
            202: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    Location: components["headers"]["JobLocation"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    stopVm: {
        parameters: {
            query?: {
                /** @description How long the guest gets to power off after the ACPI power button before the hypervisor quits (default 30, BANGER_VM_STOP_GRACE_SECONDS) */
                graceSeconds?: number;
            };
            header?: {
                /** @description Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request (method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused. */
                "idempotency-key"?: string;
            };
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The stop job */
            202: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    Location: components["headers"]["JobLocation"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    pauseVm: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request (method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused. */
                "idempotency-key"?: string;
            };
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    resumeVm: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request (method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused. */
                "idempotency-key"?: string;
            };
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    startVm: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request (method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused. */
                "idempotency-key"?: string;
            };
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The start job */
            202: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    Location: components["headers"]["JobLocation"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    restartVm: {
        parameters: {
            query?: {
                /** @description How long the guest gets to power off after the ACPI power button before the hypervisor quits (default 30, BANGER_VM_STOP_GRACE_SECONDS) */
                graceSeconds?: number;
            };
            header?: {
                /** @description Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request (method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused. */
                "idempotency-key"?: string;
            };
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The restart job */
            202: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    Location: components["headers"]["JobLocation"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    getVmConsole: {
        parameters: {
            query?: {
                /** @description Only the last N lines (default: up to the last MiB) */
                tail?: number;
            };
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The console text */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
    execInVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ExecRequest"];
            };
        };
        responses: {
            /** @description application/x-ndjson: one ExecEvent per line */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/x-ndjson": components["schemas"]["ExecEvent"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Request body too large */
            413: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            415: components["responses"]["UnsupportedMediaType"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Too many at once */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            500: components["responses"]["Internal"];
            /** @description The guest did not answer */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    sendExecStdin: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                idOrName: string;
                execId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["StdinSent"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            /** @description Unsupported content type */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    readGuestFile: {
        parameters: {
            query: {
                /** @description Absolute path in the guest */
                path: string;
            };
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The file, or the directory as a tar archive */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    /** @description Octal permission bits of a regular file, e.g. 0644 */
                    "x-banger-file-mode"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                    "application/x-tar": string;
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Too many at once */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            500: components["responses"]["Internal"];
            /** @description The guest did not answer */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            503: components["responses"]["ShuttingDown"];
        };
    };
    writeGuestFile: {
        parameters: {
            query: {
                /** @description Absolute path in the guest: the file to write, or the directory to unpack into */
                path: string;
                /** @description Octal permission bits of a file (default: the replaced file's, else 0644); ignored for tar */
                mode?: string;
                /** @description Create missing parent directories (0755) instead of answering 404 (default false) */
                mkdirs?: boolean;
            };
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/octet-stream": string;
                "application/x-tar": string;
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WrittenPath"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            /** @description Unsupported content type */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Too many at once */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The operation failed */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The guest did not answer */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            503: components["responses"]["ShuttingDown"];
            /** @description Not enough space: the guest's filesystem is full (guest-disk-full), or the daemon's state filesystem (insufficient-storage) */
            507: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createSnapshot: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request (method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused. */
                "idempotency-key"?: string;
            };
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateSnapshotRequest"];
            };
        };
        responses: {
            /** @description The snapshot job; its result is { snapshot } */
            202: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    Location: components["headers"]["JobLocation"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Request body too large */
            413: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            415: components["responses"]["UnsupportedMediaType"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    warmImage: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request (method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused. */
                "idempotency-key"?: string;
            };
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["WarmImageRequest"];
            };
        };
        responses: {
            /** @description The warm-up job; its result is { snapshot } */
            202: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    Location: components["headers"]["JobLocation"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Request body too large */
            413: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            415: components["responses"]["UnsupportedMediaType"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    listSnapshots: {
        parameters: {
            query?: {
                /** @description Page size (default 50) */
                limit?: number;
                /** @description nextCursor from the previous page */
                cursor?: string;
            };
            header?: {
                /** @description br or gzip (by q-value, br when both are equally welcome) gets a page of 1 KiB or more compressed, about a fifteenth of its size; each compressed page is made once and kept while the page is unchanged. Without it, or with neither, the page is plain JSON. */
                "accept-encoding"?: string;
                /** @description The ETag of an earlier answer (or several, comma-separated, or *): while the page is still that answer, the reply is 304 with no body. A poller that sends back the last ETag pays for a page only when it changed. */
                "if-none-match"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    ETag: components["headers"]["ETag"];
                    Vary: components["headers"]["Vary"];
                    "Content-Encoding": components["headers"]["ContentEncoding"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SnapshotList"];
                };
            };
            /** @description Not modified: the page is still the one whose ETag came in If-None-Match; no body */
            304: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    ETag: components["headers"]["ETag"];
                    Vary: components["headers"]["Vary"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["Unauthorized"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
    getSnapshot: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Snapshot"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
    deleteSnapshot: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The deleted snapshot */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Snapshot"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    listJobs: {
        parameters: {
            query?: {
                /** @description Page size (default 50) */
                limit?: number;
                /** @description nextCursor from the previous page */
                cursor?: string;
                status?: components["schemas"]["JobStatus"];
                kind?: string;
                targetType?: "image" | "vm" | "snapshot";
                targetId?: string;
            };
            header?: {
                /** @description br or gzip (by q-value, br when both are equally welcome) gets a page of 1 KiB or more compressed, about a fifteenth of its size; each compressed page is made once and kept while the page is unchanged. Without it, or with neither, the page is plain JSON. */
                "accept-encoding"?: string;
                /** @description The ETag of an earlier answer (or several, comma-separated, or *): while the page is still that answer, the reply is 304 with no body. A poller that sends back the last ETag pays for a page only when it changed. */
                "if-none-match"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    ETag: components["headers"]["ETag"];
                    Vary: components["headers"]["Vary"];
                    "Content-Encoding": components["headers"]["ContentEncoding"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobList"];
                };
            };
            /** @description Not modified: the page is still the one whose ETag came in If-None-Match; no body */
            304: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    ETag: components["headers"]["ETag"];
                    Vary: components["headers"]["Vary"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["Unauthorized"];
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
    getJob: {
        parameters: {
            query?: {
                /** @description Seconds to wait for the job to finish before answering */
                wait?: number;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Invalid request */
            422: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
    cancelJob: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request (method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused. */
                "idempotency-key"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The job once it has stopped */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
            507: components["responses"]["InsufficientStorage"];
        };
    };
    streamJobEvents: {
        parameters: {
            query?: {
                /** @description Same as the Last-Event-ID header */
                lastEventId?: number;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description text/event-stream; each event has id (a sequence number), event (status|stage) and data (the Job as JSON). The stream ends after the job finishes. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description Not found */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            422: components["responses"]["ValidationFailed"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["Internal"];
            503: components["responses"]["ShuttingDown"];
        };
    };
}
