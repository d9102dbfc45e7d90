CREATE TABLE `job_targets` (
	`job_id` text NOT NULL,
	`position` integer NOT NULL,
	`type` text NOT NULL,
	`target_id` text NOT NULL,
	`name` text,
	`active` integer NOT NULL,
	PRIMARY KEY(`job_id`, `position`),
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `job_targets_resource` ON `job_targets` (`type`,`target_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `job_targets_one_active_job` ON `job_targets` (`type`,`target_id`) WHERE active = 1;--> statement-breakpoint
DROP INDEX `jobs_target`;--> statement-breakpoint
DROP INDEX `jobs_one_active_per_target`;--> statement-breakpoint
ALTER TABLE `jobs` ADD `selection_type` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `selection_name` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `selection_query` text;--> statement-breakpoint
-- Hand-written back-fill, before the old target columns go. A job's one target becomes its
-- first job_targets row, holding the resource while the job is queued or running.
INSERT INTO `job_targets` (`job_id`, `position`, `type`, `target_id`, `name`, `active`)
  SELECT `id`, 0, `target_type`, `target_id`, `target_name`, `status` IN ('queued', 'running')
  FROM `jobs` WHERE `target_id` NOT LIKE '?%';--> statement-breakpoint
-- A label delete stored its selector as a query in place of an id: it becomes the job's
-- selection, and the VMs its result says it deleted become its targets.
UPDATE `jobs` SET `selection_type` = `target_type`, `selection_name` = coalesce(`target_name`, substr(`target_id`, 2)), `selection_query` = substr(`target_id`, 2)
  WHERE `target_id` LIKE '?%';--> statement-breakpoint
INSERT INTO `job_targets` (`job_id`, `position`, `type`, `target_id`, `name`, `active`)
  SELECT `jobs`.`id`, `deleted`.`key`, `jobs`.`target_type`, json_extract(`deleted`.`value`, '$.id'), json_extract(`deleted`.`value`, '$.name'), 0
  FROM `jobs`, json_each(`jobs`.`result`, '$.deleted') AS `deleted`
  WHERE `jobs`.`target_id` LIKE '?%' AND json_extract(`deleted`.`value`, '$.id') IS NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `target_type`;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `target_id`;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `target_name`;