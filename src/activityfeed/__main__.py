from activityfeed.cli import main

main()
