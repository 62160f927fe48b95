DROP TABLE feed_journal;
